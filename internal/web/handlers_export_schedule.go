package web

import (
	"net/http"
	"time"

	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// The organisation's scheduled export in the JSON API:
// /api/v1/export-schedule, one resource per organisation (GET, PUT,
// DELETE), for authz.ExportsManage like the exports. The exports page sets
// the same schedule (postExportSchedule).

// exportScheduleJSON is a schedule in the JSON API (see openapi.json).
type exportScheduleJSON struct {
	Frequency    string    `json:"frequency"`
	Weekday      int       `json:"weekday"`
	Hour         int       `json:"hour"`
	Timezone     string    `json:"timezone"`
	Tables       []string  `json:"tables"`
	Format       string    `json:"format"`
	Packaging    string    `json:"packaging"`
	NextRunAt    time.Time `json:"next_run_at"`
	LastExportID *string   `json:"last_export_id"`
	// SetBy is "member" or "api_key".
	SetBy string `json:"set_by"`
}

// exportScheduleBody is the body of PUT /api/v1/export-schedule.
type exportScheduleBody struct {
	Frequency string   `json:"frequency"`
	Weekday   int      `json:"weekday"`
	Hour      *int     `json:"hour"`
	Timezone  string   `json:"timezone"`
	Tables    []string `json:"tables"`
	Format    string   `json:"format"`
	Packaging string   `json:"packaging"`
}

func toExportScheduleJSON(sc exports.Schedule) exportScheduleJSON {
	j := exportScheduleJSON{Frequency: sc.Frequency, Weekday: int(sc.Weekday), Hour: sc.Hour, Timezone: sc.Timezone,
		Tables: sc.Request.Tables, Format: sc.Request.Format, Packaging: sc.Request.Packaging,
		NextRunAt: sc.NextRunAt.UTC(), SetBy: "member"}
	if sc.LastExportID != "" {
		id := sc.LastExportID
		j.LastExportID = &id
	}
	if sc.CreatedByAPIKey != "" {
		j.SetBy = "api_key"
	}
	if j.Tables == nil {
		j.Tables = []string{}
	}
	return j
}

func (s *server) apiGetExportSchedule() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		sc, err := s.d.Exports.GetSchedule(r.Context(), gw.ScopeFrom(r.Context()))
		if err != nil {
			return err
		}
		if sc == nil {
			return gw.Errorf(gw.ENOTFOUND, "This organisation has no scheduled export.")
		}
		writeJSON(w, http.StatusOK, toExportScheduleJSON(*sc))
		return nil
	})
}

func (s *server) apiSetExportSchedule() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var body exportScheduleBody
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		hour := -1 // absent: refused by the schedule's validation
		if body.Hour != nil {
			hour = *body.Hour
		}
		sc, err := s.d.Exports.SetSchedule(r.Context(), gw.ScopeFrom(r.Context()), exports.ScheduleInput{
			Frequency: body.Frequency, Weekday: body.Weekday, Hour: hour, Timezone: body.Timezone,
			Request: exports.Request{Tables: body.Tables, Format: body.Format, Packaging: body.Packaging}})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toExportScheduleJSON(sc))
		return nil
	})
}

func (s *server) apiDeleteExportSchedule() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.d.Exports.DeleteSchedule(r.Context(), gw.ScopeFrom(r.Context())); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

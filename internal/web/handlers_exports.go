package web

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Data exports: the page /o/{org}/exports and /api/v1/exports, both for
// authz.ExportsManage, and GET /downloads/{token}, which the token's
// signature authorises (a link the page and the API hand out, valid for an
// hour).

// exportFileJSON is a file of an export in the JSON API.
type exportFileJSON struct {
	Name  string `json:"name"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
	// URL downloads it: a signed link, valid for an hour.
	URL string `json:"url"`
}

// exportJSON is an export in the JSON API (see openapi.json).
type exportJSON struct {
	ID            string           `json:"id"`
	Status        string           `json:"status"`
	Format        string           `json:"format"`
	Packaging     string           `json:"packaging"`
	Tables        []string         `json:"tables"`
	RowsWritten   int64            `json:"rows_written"`
	RowsEstimated int64            `json:"rows_estimated"`
	Percent       int              `json:"percent"`
	Files         []exportFileJSON `json:"files"`
	Error         string           `json:"error"`
	CreatedAt     time.Time        `json:"created_at"`
	StartedAt     *time.Time       `json:"started_at"`
	FinishedAt    *time.Time       `json:"finished_at"`
	ExpiresAt     *time.Time       `json:"expires_at"`
	ReadFrom      string           `json:"read_from"`
}

// exportBody is the body of POST /api/v1/exports.
type exportBody struct {
	Tables    []string `json:"tables"`
	Format    string   `json:"format"`
	Packaging string   `json:"packaging"`
}

// exportList is the body of GET /api/v1/exports.
type exportList struct {
	Data []exportJSON `json:"data"`
}

// exportFiles are e's files with signed links (absolute URLs with base).
func (s *server) exportFiles(e exports.Export, base string) ([]exportFileJSON, error) {
	files := make([]exportFileJSON, 0, len(e.Files))
	if e.Status != exports.StatusSucceeded {
		return files, nil
	}
	for _, f := range e.Files {
		link, err := s.d.Exports.Link(e, f.Name)
		if err != nil {
			return nil, err
		}
		files = append(files, exportFileJSON{Name: f.Name, Rows: f.Rows, Bytes: f.Bytes, URL: base + link})
	}
	return files, nil
}

func (s *server) toExportJSON(r *http.Request, e exports.Export) (exportJSON, error) {
	files, err := s.exportFiles(e, requestBase(r))
	if err != nil {
		return exportJSON{}, err
	}
	return exportJSON{ID: e.ID, Status: e.Status, Format: e.Format, Packaging: e.Packaging, Tables: e.Tables,
		RowsWritten: e.RowsWritten, RowsEstimated: e.RowsEstimated, Percent: e.Percent(), Files: files,
		Error: e.Error, CreatedAt: e.CreatedAt, StartedAt: e.StartedAt, FinishedAt: e.FinishedAt, ExpiresAt: e.ExpiresAt,
		ReadFrom: e.ReadFrom}, nil
}

// requestBase is the scheme and host the request came to, for absolute
// links in API answers.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *server) apiCreateExport() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var body exportBody
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		e, err := s.d.Exports.Request(r.Context(), gw.ScopeFrom(r.Context()),
			exports.Request{Tables: body.Tables, Format: body.Format, Packaging: body.Packaging})
		if err != nil {
			return err
		}
		return s.writeExportAccepted(w, r, e)
	})
}

// writeExportAccepted answers a request for an export with the export
// queued for it: 202, its Location and its JSON.
func (s *server) writeExportAccepted(w http.ResponseWriter, r *http.Request, e exports.Export) error {
	j, err := s.toExportJSON(r, e)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/exports/"+e.ID)
	writeJSON(w, http.StatusAccepted, j)
	return nil
}

// replayExportCreate answers an export request replayed with its
// Idempotency-Key (idempotentCreate): the export it created, as the
// request answered.
func (s *server) replayExportCreate(w http.ResponseWriter, r *http.Request, id string) error {
	e, err := s.d.Exports.Get(r.Context(), gw.ScopeFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return s.writeExportAccepted(w, r, e)
}

func (s *server) apiGetExport() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		e, err := s.d.Exports.Get(r.Context(), gw.ScopeFrom(r.Context()), r.PathValue("id"))
		if err != nil {
			return err
		}
		j, err := s.toExportJSON(r, e)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, j)
		return nil
	})
}

func (s *server) apiListExports() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		list, err := s.d.Exports.List(r.Context(), gw.ScopeFrom(r.Context()))
		if err != nil {
			return err
		}
		out := exportList{Data: make([]exportJSON, len(list))}
		for i, e := range list {
			if out.Data[i], err = s.toExportJSON(r, e); err != nil {
				return err
			}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

func (s *server) apiCancelExport() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		scope := gw.ScopeFrom(r.Context())
		if err := s.d.Exports.Cancel(r.Context(), scope, r.PathValue("id")); err != nil {
			return err
		}
		e, err := s.d.Exports.Get(r.Context(), scope, r.PathValue("id"))
		if err != nil {
			return err
		}
		j, err := s.toExportJSON(r, e)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, j)
		return nil
	})
}

// exportsPage is the data of exports.html.
type exportsPage struct {
	Exports []exportRow
	Tables  []string
	// Schedule is the organisation's scheduled export; nil when none.
	Schedule *exports.Schedule
	// Weekdays name the days for the schedule's form, Sunday first.
	Weekdays []time.Weekday
	// Active says an export is queued or running: the page offers to
	// refresh, and no new request.
	Active bool
}

func (exportsPage) template() string { return "exports.html" }

// exportRow is one export as the page shows it.
type exportRow struct {
	exports.Export
	Files []exportFileJSON
}

func (s *server) exportsData(r *http.Request) (exportsPage, error) {
	list, err := s.d.Exports.List(r.Context(), gw.ScopeFrom(r.Context()))
	if err != nil {
		return exportsPage{}, err
	}
	data := exportsPage{Tables: exports.AllTables,
		Weekdays: []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}}
	if data.Schedule, err = s.d.Exports.GetSchedule(r.Context(), gw.ScopeFrom(r.Context())); err != nil {
		return exportsPage{}, err
	}
	for _, e := range list {
		files, err := s.exportFiles(e, "")
		if err != nil {
			return exportsPage{}, err
		}
		data.Exports = append(data.Exports, exportRow{Export: e, Files: files})
		data.Active = data.Active || e.Active()
	}
	return data, nil
}

func (s *server) pageExports() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		data, err := s.exportsData(r)
		if err != nil {
			return err
		}
		f := newForm()
		f.Values["format"], f.Values["packaging"] = exports.FormatCSV, exports.PackagingGzip
		s.render(w, r, http.StatusOK, page{Title: "Exports", Form: f, Data: data})
		return nil
	})
}

func (s *server) postExport() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			return gw.Errorf(gw.EINVALID, "The form could not be read.")
		}
		req := exports.Request{Tables: r.PostForm["tables"], Format: r.PostFormValue("format"),
			Packaging: r.PostFormValue("packaging")}
		if _, err := s.d.Exports.Request(r.Context(), gw.ScopeFrom(r.Context()), req); err != nil {
			data, derr := s.exportsData(r)
			if derr != nil {
				return derr
			}
			f := newForm()
			f.Values["format"], f.Values["packaging"] = req.Format, req.Packaging
			return s.renderForm(w, r, page{Title: "Exports", Form: f, Data: data}, err)
		}
		s.flash(r, "Export requested. It runs in the background: this page shows its progress, and its download links when it is ready.")
		redirect(w, r, orgPath(r, "/exports"))
		return nil
	})
}

func (s *server) postCancelExport() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.d.Exports.Cancel(r.Context(), gw.ScopeFrom(r.Context()), r.PathValue("id")); err != nil {
			if gw.ErrorCode(err) != gw.ECONFLICT {
				return err
			}
			s.flash(r, gw.ErrorMessage(err))
		} else {
			s.flash(r, "Export cancelled; nothing of it is kept.")
		}
		redirect(w, r, orgPath(r, "/exports"))
		return nil
	})
}

// postExportSchedule sets the organisation's scheduled export, or stops
// it (frequency "none").
func (s *server) postExportSchedule() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			return gw.Errorf(gw.EINVALID, "The form could not be read.")
		}
		scope := gw.ScopeFrom(r.Context())
		if r.PostFormValue("frequency") == "none" {
			if err := s.d.Exports.DeleteSchedule(r.Context(), scope); err != nil && gw.ErrorCode(err) != gw.ENOTFOUND {
				return err
			}
			s.flash(r, "Scheduled exports stopped.")
			redirect(w, r, orgPath(r, "/exports"))
			return nil
		}
		weekday, _ := strconv.Atoi(r.PostFormValue("weekday"))
		hour, herr := strconv.Atoi(r.PostFormValue("hour"))
		if herr != nil {
			hour = -1
		}
		in := exports.ScheduleInput{Frequency: r.PostFormValue("frequency"), Weekday: weekday, Hour: hour,
			Timezone: r.PostFormValue("timezone"), Request: exports.Request{Tables: r.PostForm["tables"],
				Format: r.PostFormValue("format"), Packaging: r.PostFormValue("packaging")}}
		sc, err := s.d.Exports.SetSchedule(r.Context(), scope, in)
		if err != nil {
			data, derr := s.exportsData(r)
			if derr != nil {
				return derr
			}
			f := newForm()
			f.Values["format"], f.Values["packaging"] = exports.FormatCSV, exports.PackagingGzip
			return s.renderForm(w, r, page{Title: "Exports", Form: f, Data: data}, err)
		}
		s.flash(r, "Scheduled: the next export is requested at "+sc.NextRunAt.Format("2006-01-02 15:04")+" UTC, and you are emailed when it is ready.")
		redirect(w, r, orgPath(r, "/exports"))
		return nil
	})
}

// getExportDownload serves the file a signed link names, as an attachment,
// or redirects to a URL the blob store signed for it (S3).
func (s *server) getExportDownload() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		d, err := s.d.Exports.Open(r.Context(), r.PathValue("token"))
		if err != nil {
			return err
		}
		h := w.Header()
		if d.RedirectURL != "" {
			h.Set("Cache-Control", "private, no-store")
			http.Redirect(w, r, d.RedirectURL, http.StatusFound)
			return nil
		}
		defer d.Close()
		h.Set("Content-Type", d.ContentType)
		h.Set("Content-Length", strconv.FormatInt(d.Size, 10))
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.Name}))
		h.Set("Cache-Control", "private, no-store")
		w.WriteHeader(http.StatusOK)
		if _, err := io.Copy(w, d); err != nil {
			s.d.Logger.Warn("download interrupted", "error", fmt.Sprint(err))
		}
		return nil
	})
}

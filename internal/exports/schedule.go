package exports

import (
	"context"
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // schedules name IANA time zones; the binary carries their rules

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Scheduled exports: an organisation may ask for an export every day, or
// every week on a weekday, at an hour of its time zone (the Tuesday export,
// done right). The periodic ScheduleWorker requests the due ones' exports
// exactly as a member would (Request), so they run, notify and expire the
// same way, and moves each schedule to its next time.

// Frequencies of a schedule.
const (
	FrequencyDaily  = "daily"
	FrequencyWeekly = "weekly"
)

// Schedule is an organisation's scheduled export.
type Schedule struct {
	// Frequency is FrequencyDaily or FrequencyWeekly.
	Frequency string
	// Weekday is the day of a weekly export (Sunday is 0).
	Weekday time.Weekday
	// Hour is the hour (0–23) of Timezone at which it is requested.
	Hour int
	// Timezone is an IANA time zone name, such as "Europe/Paris"; "UTC" by default.
	Timezone string
	// Request says what each export holds.
	Request Request
	// CreatedBy is the user who set it: the exports are requested in their
	// name, and the ready email goes to them. "" when an API key set it.
	CreatedBy string
	// CreatedByAPIKey is the API key that set it (through the API), ""
	// when a member did: the exports are requested in the key's name while
	// it is live and may export, and nobody is emailed (the client polls).
	CreatedByAPIKey string
	// NextRunAt is when it is next due.
	NextRunAt time.Time
	// LastExportID is the export it requested last; "" before the first.
	LastExportID string
}

// ScheduleInput sets a schedule.
type ScheduleInput struct {
	// Frequency is FrequencyDaily or FrequencyWeekly.
	Frequency string
	// Weekday is the day of a weekly export (Sunday is 0).
	Weekday int
	// Hour is the hour, 0–23.
	Hour int
	// Timezone is an IANA time zone name; "" is UTC.
	Timezone string
	// Request says what each export holds (as for Service.Request).
	Request Request
}

// normalize checks in: EINVALID with Fields.
func (in ScheduleInput) normalize() (ScheduleInput, *time.Location, error) {
	fields := map[string]string{}
	if in.Frequency != FrequencyDaily && in.Frequency != FrequencyWeekly {
		fields["frequency"] = "Choose daily or weekly."
	}
	// A weekday out of range is refused even when daily (it is ignored
	// then), as the API's document refuses it.
	if in.Weekday < 0 || in.Weekday > 6 {
		fields["weekday"] = "Choose a day of the week, 0 (Sunday) to 6 (Saturday)."
	}
	if in.Frequency == FrequencyDaily {
		in.Weekday = 0
	}
	if in.Hour < 0 || in.Hour > 23 {
		fields["hour"] = "Choose an hour from 0 to 23."
	}
	if in.Timezone == "" {
		in.Timezone = "UTC"
	}
	loc, err := time.LoadLocation(in.Timezone)
	if err != nil || in.Timezone == "Local" {
		fields["timezone"] = "Choose a time zone such as UTC or Europe/Paris."
	}
	r, err := in.Request.normalize()
	if ge, ok := errors.AsType[*gw.Error](err); ok {
		for k, v := range ge.Fields {
			fields[k] = v
		}
	}
	in.Request = r
	if len(fields) > 0 {
		return in, nil, &gw.Error{Code: gw.EINVALID, Message: "The schedule is invalid.", Fields: fields}
	}
	return in, loc, nil
}

// nextRun is the first time after t at hour:00 of loc, on weekday when
// weekly. A day whose hour:00 does not exist (a daylight-saving gap) runs
// at the time Go normalises it to.
func nextRun(t time.Time, frequency string, weekday time.Weekday, hour int, loc *time.Location) time.Time {
	local := t.In(loc)
	for d := 0; d <= 8; d++ {
		c := time.Date(local.Year(), local.Month(), local.Day()+d, hour, 0, 0, 0, loc)
		if !c.After(t) || (frequency == FrequencyWeekly && c.Weekday() != weekday) {
			continue
		}
		return c.UTC()
	}
	panic("unreachable: a week always has the weekday")
}

// SetSchedule sets (or replaces) the scope's organisation's scheduled
// export, in the caller's name, and returns it. Invalid input is EINVALID
// with Fields. Set by a member, its exports are requested in their name
// and the ready email goes to them; set by an API key, in the key's name
// (while it is live and may export), with no email, as for an export the
// key requests.
func (s *Service) SetSchedule(ctx context.Context, scope gw.Scope, in ScheduleInput) (Schedule, error) {
	if err := authz.Require(scope, authz.ExportsManage); err != nil {
		return Schedule{}, err
	}
	in, loc, err := in.normalize()
	if err != nil {
		return Schedule{}, err
	}
	now := s.now()
	sc := Schedule{Frequency: in.Frequency, Weekday: time.Weekday(in.Weekday), Hour: in.Hour, Timezone: in.Timezone,
		Request: in.Request, CreatedBy: scope.Actor.UserID}
	if scope.Actor.UserID == "" {
		sc.CreatedByAPIKey = scope.Actor.APIKeyID
	}
	sc.NextRunAt = nextRun(now, sc.Frequency, sc.Weekday, sc.Hour, loc)
	err = postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if err := upsertSchedule(ctx, tx, scope.OrgID, sc, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{OrgID: scope.OrgID, Action: audit.ActionExportScheduled,
			TargetType: audit.TargetExport, After: map[string]any{"frequency": sc.Frequency, "weekday": int(sc.Weekday),
				"hour": sc.Hour, "timezone": sc.Timezone, "format": sc.Request.Format, "packaging": sc.Request.Packaging,
				"tables": sc.Request.Tables}})
	})
	if err != nil {
		return Schedule{}, fmt.Errorf("set export schedule: %w", err)
	}
	return sc, nil
}

// GetSchedule returns the scope's organisation's scheduled export, or nil
// when it has none.
func (s *Service) GetSchedule(ctx context.Context, scope gw.Scope) (*Schedule, error) {
	if err := authz.Require(scope, authz.ExportsManage); err != nil {
		return nil, err
	}
	sc, err := getSchedule(ctx, postgres.Reader(s.pool, postgres.TxOptions{OrgID: scope.OrgID}), scope.OrgID)
	if err != nil {
		return nil, fmt.Errorf("get export schedule: %w", postgres.Translate(err))
	}
	return sc, nil
}

// DeleteSchedule stops the scope's organisation's scheduled export;
// ENOTFOUND when it has none.
func (s *Service) DeleteSchedule(ctx context.Context, scope gw.Scope) error {
	if err := authz.Require(scope, authz.ExportsManage); err != nil {
		return err
	}
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		ok, err := deleteSchedule(ctx, tx, scope.OrgID)
		if err != nil {
			return err
		}
		if !ok {
			return gw.Errorf(gw.ENOTFOUND, "This organisation has no scheduled export.")
		}
		return audit.Record(ctx, tx, audit.Event{OrgID: scope.OrgID, Action: audit.ActionExportUnscheduled,
			TargetType: audit.TargetExport})
	})
	if err != nil {
		return fmt.Errorf("delete export schedule: %w", err)
	}
	return nil
}

// RunSchedules requests the exports of every organisation whose schedule
// is due, and returns how many it requested. A due schedule whose
// organisation still has an export running waits for the next run of the
// job; one whose member left is skipped and moved on (its exports would
// have nobody to go to). Each organisation is one transaction: the export,
// its job, its audit event and the schedule's next time commit together.
func (s *Service) RunSchedules(ctx context.Context) (int, error) {
	n := 0
	err := postgres.EachOrg(ctx, postgres.Reader(s.exportPool, postgres.TxOptions{}), func(orgID string) error {
		ok, err := s.runSchedule(ctx, orgID)
		if ok {
			n++
		}
		return err
	})
	return n, err
}

// runSchedule requests orgID's scheduled export if it is due. It runs on
// the exports' pool: visiting every organisation takes none of the
// interactive pool's connections, and one round trip for an organisation
// with nothing due.
func (s *Service) runSchedule(ctx context.Context, orgID string) (bool, error) {
	now := s.now()
	due, err := isDue(ctx, postgres.Reader(s.exportPool, postgres.TxOptions{OrgID: orgID}), orgID, now)
	if err != nil || !due {
		return false, err
	}
	requested := false
	err = postgres.InOrgTx(ctx, s.exportPool, orgID, func(tx pgx.Tx) error {
		sc, err := dueSchedule(ctx, tx, orgID, now)
		if err != nil || sc == nil {
			return err
		}
		loc, err := time.LoadLocation(sc.Timezone)
		if err != nil {
			loc = time.UTC
		}
		next := nextRun(now, sc.Frequency, sc.Weekday, sc.Hour, loc)
		actor, ok, err := s.scheduleActor(ctx, tx, orgID, sc)
		if err != nil {
			return err
		}
		if !ok {
			s.logger.Warn("scheduled export skipped: its member left, its API key was revoked, or they may no longer export",
				"org_id", orgID)
			return moveSchedule(ctx, tx, orgID, next, "")
		}
		e := Export{ID: gw.NewID(), OrgID: orgID, RequestedBy: actor.UserID + actor.APIKeyID, Format: sc.Request.Format,
			Packaging: sc.Request.Packaging, Tables: sc.Request.Tables, Status: StatusQueued, CreatedAt: now}
		ok, err = insertExport(ctx, tx, e)
		if err != nil || !ok {
			return err // an export is running: try again at the next run of the job
		}
		if err := audit.Record(ctx, tx, audit.Event{OrgID: orgID, Actor: actor,
			Action: audit.ActionExportRequested, TargetType: audit.TargetExport, TargetID: e.ID,
			After: map[string]any{"format": e.Format, "packaging": e.Packaging, "tables": e.Tables, "scheduled": true}}); err != nil {
			return err
		}
		if _, err := s.jobs.InsertTx(ctx, tx, ExportArgs{OrgID: orgID, ExportID: e.ID}, nil); err != nil {
			return err
		}
		requested = true
		return moveSchedule(ctx, tx, orgID, next, e.ID)
	})
	if err != nil {
		return false, fmt.Errorf("run export schedule of %s: %w", orgID, err)
	}
	return requested, nil
}

// APIKeySource is what a schedule set through the API needs of the org
// module (*org.Service): the organisation's API keys, to run it only while
// its key is live and may export.
type APIKeySource interface {
	ExportAPIKeys(ctx context.Context, tx pgx.Tx, orgID string) ([]org.APIKey, error)
}

// scheduleActor is who sc's exports are requested by: its member, or its
// API key; false when they may no longer export (the member left or lost
// the permission; the key was revoked, or Config.APIKeys is nil).
func (s *Service) scheduleActor(ctx context.Context, tx pgx.Tx, orgID string, sc *Schedule) (gw.Actor, bool, error) {
	if sc.CreatedByAPIKey != "" {
		if s.cfg.APIKeys == nil {
			return gw.Actor{}, false, nil
		}
		keys, err := s.cfg.APIKeys.ExportAPIKeys(ctx, tx, orgID)
		if err != nil {
			return gw.Actor{}, false, err
		}
		for _, k := range keys {
			if k.ID == sc.CreatedByAPIKey && k.RevokedAt == nil && authz.Can(k.Role, authz.ExportsManage) {
				return gw.Actor{APIKeyID: k.ID}, true, nil
			}
		}
		return gw.Actor{}, false, nil
	}
	members, err := s.sources.Members.ExportMembers(ctx, tx, orgID)
	if err != nil {
		return gw.Actor{}, false, err
	}
	for _, m := range members {
		if m.UserID == sc.CreatedBy && authz.Can(m.Role, authz.ExportsManage) {
			return gw.Actor{UserID: m.UserID}, true, nil
		}
	}
	return gw.Actor{}, false, nil
}

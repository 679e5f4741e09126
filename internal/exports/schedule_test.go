package exports_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
)

// mailed sends, through the real mail job, the emails the outbox queued
// since the last call, and returns them.
func (b *bundle) mailed(t *testing.T) []mail.Message {
	t.Helper()
	ctx := context.Background()
	rows, err := b.db.Owner.Query(ctx, `DELETE FROM river_job WHERE kind = 'mail.send' RETURNING args`)
	require.NoError(t, err)
	all, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	var sent []mail.Message
	sender := senderFunc(func(_ context.Context, m mail.Message) error { sent = append(sent, m); return nil })
	w := &mail.SendWorker{Keys: b.mods.Keys, Sender: sender}
	for _, raw := range all {
		var args mail.SendArgs
		require.NoError(t, json.Unmarshal(raw, &args))
		require.NoError(t, w.Work(ctx, &river.Job[mail.SendArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: args}))
	}
	return sent
}

type senderFunc func(context.Context, mail.Message) error

func (f senderFunc) Send(ctx context.Context, m mail.Message) error { return f(ctx, m) }

// withOutbox is b's Service, but telling requesters by email.
func (b *bundle) withOutbox() *exports.Service {
	return exports.NewService(b.db.Runtime, nil, b.bucket, b.mods.Keys, b.mods.Jobs, b.clock,
		exports.Sources{Contacts: b.mods.Contacts, Members: b.mods.Orgs, Audit: b.mods.Audit},
		exports.Config{Outbox: b.mods.Outbox, BaseURL: "https://app.example/", APIKeys: b.mods.Orgs})
}

func (b *bundle) ownerEmail(t *testing.T) string {
	t.Helper()
	var email string
	require.NoError(t, b.db.Owner.QueryRow(context.Background(), `SELECT email FROM users WHERE id = $1`,
		b.owner.Actor.UserID).Scan(&email))
	return email
}

// TestReadyEmail: the member who requested an export is told by email,
// through the outbox, once it succeeded, with a link to the exports page;
// a cancelled or failed export, or one requested with an API key, sends
// nothing.
func TestReadyEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := b.withOutbox()
	ctx := context.Background()
	b.contact(t, "Ada", "ada@example.com", "")

	e, err := svc.Request(ctx, b.owner, exports.Request{Tables: []string{exports.TableContacts}})
	require.NoError(t, err)
	require.Empty(t, b.mailed(t), "nothing before it is ready")
	require.NoError(t, svc.Run(ctx, e.OrgID, e.ID, 1, 3))
	sent := b.mailed(t)
	require.Len(t, sent, 1)
	require.Equal(t, b.ownerEmail(t), sent[0].To)
	require.Equal(t, "Your data export is ready", sent[0].Subject)
	require.Contains(t, sent[0].Text, "1 rows in 1 file(s)")
	require.Contains(t, sent[0].Text, "contacts.csv.gz")
	require.Contains(t, sent[0].Text, "https://app.example/o/"+b.owner.OrgID+"/exports")
	require.Contains(t, sent[0].Text, "until 2026-12-12 09:00 UTC")

	e, err = svc.Request(ctx, b.owner, exports.Request{})
	require.NoError(t, err)
	require.NoError(t, svc.Cancel(ctx, b.owner, e.ID))
	require.NoError(t, svc.Run(ctx, e.OrgID, e.ID, 1, 3))
	require.Empty(t, b.mailed(t), "cancelled")

	key := b.owner
	key.Actor = gw.Actor{APIKeyID: gw.NewID()}
	e, err = svc.Request(ctx, key, exports.Request{})
	require.NoError(t, err)
	require.NoError(t, svc.Run(ctx, e.OrgID, e.ID, 1, 3))
	require.Empty(t, b.mailed(t), "an API client polls")
}

// TestScheduledExports: a weekly schedule requests its export at its
// hour, in its member's name, once, and the export is delivered like any
// other (the ready email); a schedule due while an export runs waits for
// it; validation and permissions; another organisation is untouched.
func TestScheduledExports(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := b.withOutbox()
	ctx := context.Background()
	b.contact(t, "Ada", "ada@example.com", "")
	other := pgtest.MemberScope(t, b.db, gw.RoleOwner)

	_, err := svc.SetSchedule(ctx, b.owner, exports.ScheduleInput{Frequency: "monthly", Hour: 24, Weekday: 9,
		Timezone: "Mars/Olympus", Request: exports.Request{Format: "xlsx"}})
	var ge *gw.Error
	require.ErrorAs(t, err, &ge)
	require.Equal(t, gw.EINVALID, ge.Code)
	require.Len(t, ge.Fields, 5, ge.Fields)
	viewer := b.owner
	viewer.Role = gw.RoleViewer
	_, err = svc.SetSchedule(ctx, viewer, exports.ScheduleInput{Frequency: exports.FrequencyDaily})
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err))

	// The clock says Saturday 2026-12-05 09:00 UTC: the Tuesday 07:00 Paris export is on the 8th at 06:00 UTC.
	sc, err := svc.SetSchedule(ctx, b.owner, exports.ScheduleInput{Frequency: exports.FrequencyWeekly,
		Weekday: int(time.Tuesday), Hour: 7, Timezone: "Europe/Paris", Request: exports.Request{Tables: []string{exports.TableContacts}}})
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 12, 8, 6, 0, 0, 0, time.UTC), sc.NextRunAt)
	got, err := svc.GetSchedule(ctx, b.owner)
	require.NoError(t, err)
	require.Equal(t, sc.NextRunAt, got.NextRunAt)
	require.Equal(t, []string{exports.TableContacts}, got.Request.Tables)
	none, err := svc.GetSchedule(ctx, other)
	require.NoError(t, err)
	require.Nil(t, none)

	n, err := svc.RunSchedules(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "not due yet")

	b.clock.Advance(3*24*time.Hour - 3*time.Hour) // Tuesday 06:00 UTC
	n, err = svc.RunSchedules(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = svc.RunSchedules(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "once")
	list, err := svc.List(ctx, b.owner)
	require.NoError(t, err)
	require.Len(t, list, 1)
	e := list[0]
	require.Equal(t, b.owner.Actor.UserID, e.RequestedBy)
	require.Equal(t, []string{exports.TableContacts}, e.Tables)
	got, err = svc.GetSchedule(ctx, b.owner)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 12, 15, 6, 0, 0, 0, time.UTC), got.NextRunAt)
	require.Equal(t, e.ID, got.LastExportID)
	otherList, err := svc.List(ctx, other)
	require.NoError(t, err)
	require.Empty(t, otherList)

	// A week later the previous export is still running: the schedule waits for it.
	b.clock.Advance(7 * 24 * time.Hour)
	n, err = svc.RunSchedules(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, svc.Run(ctx, e.OrgID, e.ID, 1, 3))
	sent := b.mailed(t)
	require.Len(t, sent, 1, "delivered the same way")
	require.Equal(t, b.ownerEmail(t), sent[0].To)
	n, err = svc.RunSchedules(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "requested once the previous one finished")

	require.NoError(t, svc.DeleteSchedule(ctx, b.owner))
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(svc.DeleteSchedule(ctx, b.owner)))
	b.clock.Advance(7 * 24 * time.Hour)
	n, err = svc.RunSchedules(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

// TestScheduleSetByAPIKey: a schedule set through the API runs in its
// key's name (no email: the client polls) while the key is live; once it
// is revoked (or too weak), the schedule is skipped and moved on.
func TestScheduleSetByAPIKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := b.withOutbox()
	ctx := context.Background()
	b.contact(t, "Ada", "ada@example.com", "")
	k, _, err := b.mods.Orgs.CreateAPIKey(ctx, b.owner, "scheduler", gw.RoleAdmin)
	require.NoError(t, err)
	key := b.owner
	key.Actor, key.Role = gw.Actor{APIKeyID: k.ID}, gw.RoleAdmin

	sc, err := svc.SetSchedule(ctx, key, exports.ScheduleInput{Frequency: exports.FrequencyDaily, Hour: 10})
	require.NoError(t, err)
	require.Equal(t, k.ID, sc.CreatedByAPIKey)
	require.Empty(t, sc.CreatedBy)
	got, err := svc.GetSchedule(ctx, b.owner)
	require.NoError(t, err)
	require.Equal(t, k.ID, got.CreatedByAPIKey, "read back as the key's")
	require.Empty(t, got.CreatedBy)

	b.clock.Advance(time.Hour) // 10:00 UTC
	n, err := svc.RunSchedules(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	list, err := svc.List(ctx, b.owner)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, k.ID, list[0].RequestedBy)
	require.NoError(t, svc.Run(ctx, list[0].OrgID, list[0].ID, 1, 3))
	require.Empty(t, b.mailed(t), "an API key has no mailbox")

	require.NoError(t, b.mods.Orgs.RevokeAPIKey(ctx, b.owner, k.ID))
	b.clock.Advance(24 * time.Hour)
	n, err = svc.RunSchedules(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a revoked key's schedule is skipped")
	got, err = svc.GetSchedule(ctx, b.owner)
	require.NoError(t, err)
	require.True(t, got.NextRunAt.After(b.clock.Now()), "and moved on")
}

// TestKilledWorkerRetry: a worker killed mid-export runs no cleanup: the
// export stays running with its progress half-way, and a store that
// publishes as it writes (or a crashed upload) may hold a partial file and
// stray parts. The retry (River's next attempt) starts from scratch:
// nothing of the dead attempt survives, and the files hold every row once.
func TestKilledWorkerRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, n := range []string{"Ada", "Grace", "Katherine"} {
		b.contact(t, n, strings.ToLower(n)+"@example.com", "")
	}
	e, err := b.svc.Request(ctx, b.owner, exports.Request{Tables: []string{exports.TableContacts}})
	require.NoError(t, err)

	// What the dead attempt 1 left: the row running half-way, a truncated
	// file and a stray part under the export's prefix.
	require.EqualValues(t, 1, orgExec(t, b, e.OrgID, `UPDATE exports SET status = 'running', attempts = 1, rows_written = 2,
		rows_estimated = 3 WHERE id = $1`, e.ID))
	prefix := "exports/" + e.OrgID + "/" + e.ID + "/"
	require.NoError(t, b.bucket.WriteAll(ctx, prefix+"contacts.csv.gz", []byte("\x1f\x8b truncated"), nil))
	require.NoError(t, b.bucket.WriteAll(ctx, prefix+"contacts.csv.gz.part-0001", []byte("stray"), nil))

	require.NoError(t, b.svc.Run(ctx, e.OrgID, e.ID, 2, 3))
	e, err = b.svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)
	require.Equal(t, exports.StatusSucceeded, e.Status)
	require.EqualValues(t, 3, e.RowsWritten)
	require.Equal(t, []string{prefix + "2/contacts.csv.gz"}, b.objects(t), "the stray part is gone; attempt 2's directory")
	got := records(t, exports.FormatCSV, gunzip(t, b.download(t, e, "contacts.csv.gz")))
	require.Len(t, got, 3, "every row once")
}

package exports

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/mail"
)

// tellReady queues, in tx (the one marking e succeeded), the email telling
// the member who requested e that it is ready: its files and a link to the
// exports page, where the signed download links are (a link in an email
// would outlive its hour). An export requested with an API key, or by
// someone who is no longer a member, sends none: the API client polls.
func (s *Service) tellReady(ctx context.Context, tx pgx.Tx, e Export, rows int64, files []File, expires time.Time) error {
	if s.cfg.Outbox == nil || e.RequestedBy == "" {
		return nil
	}
	members, err := s.sources.Members.ExportMembers(ctx, tx, e.OrgID)
	if err != nil {
		return fmt.Errorf("find the export's requester: %w", err)
	}
	for _, m := range members {
		if m.UserID != e.RequestedBy {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "The data export you requested on %s UTC is ready: %d rows in %d file(s).\n\n",
			e.CreatedAt.UTC().Format("2006-01-02 15:04"), rows, len(files))
		for _, f := range files {
			fmt.Fprintf(&b, "  %s (%d rows, %d bytes)\n", f.Name, f.Rows, f.Bytes)
		}
		fmt.Fprintf(&b, "\nDownload it from the exports page until %s UTC:\n%s/o/%s/exports\n",
			expires.UTC().Format("2006-01-02 15:04"), strings.TrimRight(s.cfg.BaseURL, "/"), e.OrgID)
		return s.cfg.Outbox.Enqueue(ctx, tx, mail.Message{To: m.Email, Subject: "Your data export is ready", Text: b.String()})
	}
	return nil
}

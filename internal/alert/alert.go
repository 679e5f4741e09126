// Package alert sends alerts from inside the app to a Slack-compatible
// incoming webhook (GROUNDWORK_ALERT_WEBHOOK_URL), for deployments where no
// Prometheus and Alertmanager run: backup or restore-rehearsal failure,
// WAL archiving failing, the Stripe webhook ledger stuck, a dispute opened
// (Incidents), and an error-rate rise in the ten minutes after a new
// version started over the previous version's rate (DeployWatch).
// Alerts are deduplicated by key: the same condition alerts once per
// Window, however often it is seen.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Alert is one condition to tell the team about.
type Alert struct {
	// Key identifies the condition for deduplication, e.g. "pitr.failing".
	Key string
	// Text is the message, in Slack's mrkdwn.
	Text string
}

// DefaultWindow is how long an alert's key stays quiet after it was sent.
const DefaultWindow = 6 * time.Hour

// Notifier posts alerts to a webhook, each key at most once per Window.
// A nil *Notifier sends nothing. It is safe for concurrent use.
type Notifier struct {
	url    string
	client *http.Client
	clock  gw.Clock
	window time.Duration
	logger *slog.Logger

	mu   sync.Mutex
	sent map[string]time.Time
}

// New returns a Notifier posting to url, or nil when url is empty. A nil
// clock is the system clock, a window of 0 DefaultWindow.
func New(url string, clock gw.Clock, window time.Duration, logger *slog.Logger) *Notifier {
	if url == "" {
		return nil
	}
	if clock == nil {
		clock = gw.SystemClock{}
	}
	if window <= 0 {
		window = DefaultWindow
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{url: url, client: &http.Client{Timeout: 10 * time.Second}, clock: clock, window: window,
		logger: logger, sent: map[string]time.Time{}}
}

// Notify posts a unless its key was sent within the window; it reports
// whether it posted. A failed post is not remembered, so the next Notify
// tries again.
func (n *Notifier) Notify(ctx context.Context, a Alert) (bool, error) {
	if n == nil {
		return false, nil
	}
	now := n.clock.Now()
	n.mu.Lock()
	if last, ok := n.sent[a.Key]; ok && now.Sub(last) < n.window {
		n.mu.Unlock()
		return false, nil
	}
	n.sent[a.Key] = now // claimed: a concurrent Notify of the same key stays quiet
	n.mu.Unlock()
	if err := n.post(ctx, a); err != nil {
		n.mu.Lock()
		delete(n.sent, a.Key)
		n.mu.Unlock()
		n.logger.WarnContext(ctx, "alert not delivered", "alert", a.Key, "error", err)
		return false, err
	}
	n.logger.InfoContext(ctx, "alert sent", "alert", a.Key)
	return true, nil
}

// post sends a as Slack's incoming-webhook JSON: {"text": ...}.
func (n *Notifier) post(ctx context.Context, a Alert) error {
	body, err := json.Marshal(map[string]string{"text": a.Text})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alert webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("alert webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alert webhook: status %d", resp.StatusCode)
	}
	return nil
}

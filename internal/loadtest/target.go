package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// VersionInfo is what the target's /version says about it.
type VersionInfo struct {
	Version     string `json:"version"`
	Commit      string `json:"commit"`
	Environment string `json:"environment"`
}

// FetchVersion reads baseURL/version.
func FetchVersion(ctx context.Context, client *http.Client, baseURL string) (VersionInfo, error) {
	var v VersionInfo
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/version", nil)
	if err != nil {
		return v, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return v, fmt.Errorf("reach the target: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("%s/version answered %s: is it Groundwork?", baseURL, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, fmt.Errorf("read %s/version: %w", baseURL, err)
	}
	return v, nil
}

// Seed creates n contacts through the API with t's key, as a client would,
// and returns their IDs for the reads and updates of the mix.
func Seed(ctx context.Context, client *http.Client, t Target, n int) ([]string, error) {
	ids := make([]string, 0, n)
	for i := range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.BaseURL+"/api/v1/contacts", bytes.NewReader(contactJSON(i)))
		if err != nil {
			return ids, err
		}
		req.Header.Set("Authorization", "Bearer "+t.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return ids, fmt.Errorf("seed contacts: %w", err)
		}
		var c struct {
			ID string `json:"id"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return ids, fmt.Errorf("seed contacts: POST /api/v1/contacts answered %s: %s", resp.Status, bytes.TrimSpace(body))
		}
		if err := json.Unmarshal(body, &c); err != nil || c.ID == "" {
			return ids, fmt.Errorf("seed contacts: no id in %s", body)
		}
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// AverageRate is the requests per second each instance has served since it
// started, summed: the current traffic, when nothing better is known, read
// from groundwork_http_request_duration_seconds and
// process_start_time_seconds. It is an average, below the real peak.
func AverageRate(ctx context.Context, s Scraper, now time.Time) (float64, error) {
	total := 0.0
	for _, u := range s.URLs {
		snap, err := Scraper{URLs: []string{u}, Client: s.Client}.Scrape(ctx)
		if err != nil {
			return 0, err
		}
		start := snap.Values["process_start_time_seconds"]
		up := float64(now.Unix()) - start
		if start <= 0 || up < 1 {
			continue
		}
		total += snap.Values[mRequests] / up
	}
	return total, nil
}

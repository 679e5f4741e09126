package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{
		gw.EINVALID:      422,
		gw.ENOTFOUND:     404,
		gw.ECONFLICT:     409,
		gw.EFORBIDDEN:    403,
		gw.EUNAUTHORIZED: 401,
		gw.ERATELIMIT:    429,
		gw.ETOOLARGE:     413,
		gw.EUNSUPPORTED:  415,
		gw.EUNAVAILABLE:  503,
		gw.EINTERNAL:     500,
		"made_up":        500,
	} {
		require.Equal(t, want, httpStatus(code), code)
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		err        error
		wantStatus int
		want       errorDetail
		wantLogged bool
	}{
		{
			name:       "invalid with fields",
			err:        &gw.Error{Code: gw.EINVALID, Message: "Check the form.", Fields: map[string]string{"email": "is required"}},
			wantStatus: 422,
			want:       errorDetail{Code: "invalid", Message: "Check the form.", Fields: map[string]string{"email": "is required"}},
		},
		{
			name:       "wrapped not found",
			err:        fmt.Errorf("get contact: %w", gw.Errorf(gw.ENOTFOUND, "Contact not found.")),
			wantStatus: 404,
			want:       errorDetail{Code: "not_found", Message: "Contact not found."},
		},
		{
			name:       "plain error is internal and hidden",
			err:        errors.New("dial tcp 10.0.0.5:5432: connection refused"),
			wantStatus: 500,
			want:       errorDetail{Code: "internal", Message: "An internal error has occurred."},
			wantLogged: true,
		},
		{
			name:       "internal gw error is hidden",
			err:        gw.Errorf(gw.EINTERNAL, "secret detail"),
			wantStatus: 500,
			want:       errorDetail{Code: "internal", Message: "An internal error has occurred."},
			wantLogged: true,
		},
		{
			name:       "unavailable",
			err:        gw.Errorf(gw.EUNAVAILABLE, "Try again shortly."),
			wantStatus: 503,
			want:       errorDetail{Code: "unavailable", Message: "Try again shortly."},
			wantLogged: true,
		},
		{
			name:       "max bytes",
			err:        fmt.Errorf("decode body: %w", &http.MaxBytesError{Limit: 5}),
			wantStatus: 413,
			want:       errorDetail{Code: "too_large", Message: "The request body must not exceed 5 bytes."},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := testLogger()
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r = r.WithContext(gw.WithRequestID(r.Context(), "req-err"))
			w := httptest.NewRecorder()

			writeError(w, r, logger, tt.err)

			require.Equal(t, tt.wantStatus, w.Code)
			tt.want.RequestID = "req-err"
			require.Equal(t, tt.want, decodeError(t, w))
			logged := logs.withMsg(t, "internal error")
			if !tt.wantLogged {
				require.Empty(t, logs.lines(t))
				return
			}
			require.Len(t, logged, 1)
			require.Equal(t, "ERROR", logged[0]["level"])
			require.Equal(t, "req-err", logged[0]["request_id"])
			require.Equal(t, tt.err.Error(), logged[0]["error"])
		})
	}
}

func TestWriteJSON_UnencodablePanics(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() { writeJSON(httptest.NewRecorder(), http.StatusOK, func() {}) })
}

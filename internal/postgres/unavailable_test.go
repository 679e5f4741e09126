package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// TestTranslateUnavailable: a server that cannot be reached, or went away,
// is EUNAVAILABLE (answered 503), keeping the cause for the log; a
// statement that failed, or a caller that gave up, is not.
func TestTranslateUnavailable(t *testing.T) {
	t.Parallel()
	_, connectErr := pgx.Connect(context.Background(), "postgres://u@/db?host="+t.TempDir()+"&port=5432&connect_timeout=2")
	require.Error(t, connectErr)
	_, ok := errors.AsType[*pgconn.ConnectError](connectErr)
	require.True(t, ok, "%T %v", connectErr, connectErr)

	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"no server", connectErr, gw.EUNAVAILABLE},
		{"lost mid-query", fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), gw.EUNAVAILABLE},
		{"closed", pgconn.ErrConnClosed, gw.EUNAVAILABLE},
		{"admin shutdown", &pgconn.PgError{Code: pgerrcode.AdminShutdown}, gw.EUNAVAILABLE},
		{"starting up", &pgconn.PgError{Code: pgerrcode.CannotConnectNow}, gw.EUNAVAILABLE},
		{"connection exception", &pgconn.PgError{Code: pgerrcode.ConnectionFailure}, gw.EUNAVAILABLE},
		{"too many connections", &pgconn.PgError{Code: pgerrcode.TooManyConnections}, gw.EUNAVAILABLE},
		{"statement failed", &pgconn.PgError{Code: pgerrcode.UndefinedTable}, gw.EINTERNAL},
		{"caller gave up", fmt.Errorf("look up API key: %w", context.Canceled), gw.EINTERNAL},
		{"unique violation", &pgconn.PgError{Code: pgerrcode.UniqueViolation}, gw.ECONFLICT},
		{"NUL in text", &pgconn.PgError{Code: pgerrcode.CharacterNotInRepertoire}, gw.EINVALID},
		{"untranslatable", &pgconn.PgError{Code: pgerrcode.UntranslatableCharacter}, gw.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Translate(tt.err)
			gwtest.RequireCode(t, tt.want, got)
			require.Equal(t, tt.want == gw.EUNAVAILABLE, Unavailable(tt.err))
			if tt.want == gw.EUNAVAILABLE {
				require.ErrorIs(t, got, tt.err, "the cause is kept for the log")
			}
		})
	}
}

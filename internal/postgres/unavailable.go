package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// ErrUnavailable is the kernel error of a database that cannot be reached:
// EUNAVAILABLE, which the web layer answers 503 with Retry-After.
var ErrUnavailable = gw.Errorf(gw.EUNAVAILABLE, "The service is temporarily unavailable. Please try again in a moment.")

// Unavailable reports whether err says the database server cannot be
// reached or went away, rather than that a statement failed: a connection
// that could not be made (*pgconn.ConnectError: no socket, refused, the
// server starting up or shutting down), a connection lost mid-query
// (unexpected EOF, reset, broken pipe, pgconn.ErrConnClosed), or the
// server's own word for it (SQLSTATE class 08 connection exception, 57P01
// admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 53300 too
// many connections). Trying again later may succeed. A cancelled context is
// not unavailability: the caller gave up.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pgErr.Code {
		case pgerrcode.AdminShutdown, pgerrcode.CrashShutdown, pgerrcode.CannotConnectNow, pgerrcode.TooManyConnections:
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08")
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

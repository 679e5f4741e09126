package config

import (
	"errors"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The values of DATABASE_POOLER.
const (
	PoolerNone        = "none"
	PoolerTransaction = "transaction"
)

// TransactionPooled reports whether DATABASE_URL goes through a
// transaction pooler (DATABASE_POOLER=transaction).
func (c Config) TransactionPooled() bool { return c.DatabasePooler == PoolerTransaction }

// poolerURL checks the configuration against DATABASE_POOLER and returns
// DATABASE_URL as the app must use it. Behind a transaction pooler each
// transaction may run on a different server connection, so:
//
//   - the embedded cluster has no pooler: DATABASE_URL must be set;
//   - named prepared statements (pgx's default, cache_statement) would be
//     prepared on one server connection and used on another: the URL gets
//     default_query_exec_mode=cache_describe (the unnamed statement, with
//     the parameter and result types pgx learnt once per connection, so
//     still one round trip; exec cannot encode a JSON parameter without
//     its type), and an explicit cache_statement is refused;
//   - migrations take a session-level advisory lock: DATABASE_OWNER_URL
//     must reach PostgreSQL directly, so it may not name the same host and
//     port as DATABASE_URL;
//   - exports set statement_timeout and work_mem for their session, which a
//     pooler refuses as startup parameters: DATABASE_DIRECT_URL is required.
func poolerURL(c Config) (string, error) {
	if !c.TransactionPooled() {
		return c.DatabaseURL, nil
	}
	if c.DatabaseURL == "" {
		return "", errors.New("DATABASE_POOLER=transaction: DATABASE_URL is not set; the embedded cluster has no pooler in front of it")
	}
	u, err := url.Parse(c.DatabaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("DATABASE_POOLER=transaction: write DATABASE_URL as a postgres:// URL")
	}
	q := u.Query()
	switch mode := q.Get("default_query_exec_mode"); mode {
	case "":
		q.Set("default_query_exec_mode", "cache_describe")
		u.RawQuery = q.Encode()
	case "cache_describe", "describe_exec", "exec", "simple_protocol":
	default:
		return "", errors.New("DATABASE_URL: default_query_exec_mode=" + mode + " cannot work behind a transaction pooler (DATABASE_POOLER=transaction): " +
			"its prepared statements live on one server connection while the next transaction may run on another; use cache_describe, or leave it out")
	}
	if c.DatabaseOwnerURL != "" && sameServer(c.DatabaseURL, c.DatabaseOwnerURL) {
		return "", errors.New("DATABASE_OWNER_URL: with DATABASE_POOLER=transaction it must reach PostgreSQL directly, not through the pooler on DATABASE_URL's host and port: migrations hold a session-level lock")
	}
	if c.DatabaseDirectURL == "" {
		return "", errors.New("DATABASE_DIRECT_URL: required with DATABASE_POOLER=transaction: the runtime role's connection straight to PostgreSQL, for exports, whose session settings a transaction pooler refuses")
	}
	if sameServer(c.DatabaseURL, c.DatabaseDirectURL) {
		return "", errors.New("DATABASE_DIRECT_URL: names the same host and port as DATABASE_URL, the pooler; it must reach PostgreSQL directly")
	}
	return u.String(), nil
}

// sameServer reports whether two connection strings name the same host and
// port.
func sameServer(a, b string) bool {
	ca, errA := pgx.ParseConfig(a)
	cb, errB := pgx.ParseConfig(b)
	if errA != nil || errB != nil {
		return false
	}
	return strings.EqualFold(ca.Host, cb.Host) && ca.Port == cb.Port
}

// Package postgres holds everything that talks to PostgreSQL directly: the
// connection pool, migrations, schema checks and the embedded local cluster.
package postgres

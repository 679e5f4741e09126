// Package contacts is the example product module: each organisation's
// address book. It is the template a team copies for its own domain, so it
// keeps to the house shape:
//
//   - contact.go: the types and their validation (pure, no I/O);
//   - service.go: Service, whose methods check the caller's permission and
//     run one transaction each through postgres.InOrgTx;
//   - store.go: the SQL, one function per statement.
//
// Tenancy is enforced twice: every Service method calls authz.Require with
// the caller's scope, and every query runs in a transaction that row-level
// security limits to the scope's organisation (see migration 00004).
package contacts

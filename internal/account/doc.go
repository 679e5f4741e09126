// Package account manages user accounts: sign-up with email verification,
// passwords (argon2id), sign-in with optional TOTP two-factor
// authentication, password reset, email change, the index of a user's web
// sessions, and account deletion.
//
// Accounts are global, not tenant-owned: one user may belong to several
// organisations, which the org module keeps.
package account

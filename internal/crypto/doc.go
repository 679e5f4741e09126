// Package crypto encrypts sensitive fields before they reach the database,
// with Google's Tink: AES-256-GCM for the values, and HMAC-SHA256 blind
// indexes for the fields that must stay searchable by exact match.
//
// Every ciphertext is bound to its place by associated data (AD): table,
// column, and the IDs of the row ("contacts|email|<org_id>|<id>",
// "users|totp_secret|<user_id>"). A ciphertext copied to another row, column
// or organisation does not decrypt.
//
// Keys come in two Tink keysets, each with a primary key and possibly older
// ones: the encryption keyset (GROUNDWORK_ENCRYPTION_KEYSET) and the
// blind-index keyset (GROUNDWORK_BLIND_INDEX_KEYSET); in development they
// are generated into the data directory (see Load). Tink ciphertexts begin
// with a 5-byte prefix naming their key (0x01 and the 4-byte key ID), and
// blind indexes here begin with the 4-byte key ID, so rows not under the
// primary key can be found in SQL and rewritten by ReencryptWorker after a
// rotation.
package crypto

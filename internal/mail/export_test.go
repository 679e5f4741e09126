package mail

import "crypto/x509"

// TrustRoots makes s trust the certificates in pool, for tests against
// mailtest's self-signed TLS servers.
func TrustRoots(s *SMTP, pool *x509.CertPool) { s.tlsConfig.RootCAs = pool }

// PlaintextAllowed exposes plaintextAllowed to the tests.
var PlaintextAllowed = plaintextAllowed

package config

import (
	"net/url"
	"regexp"
	"strings"
)

// mask replaces every secret Redact and redactSentryDSN hide.
const mask = "xxxxx"

// secretParams are the connection parameters that hold secrets, in a URL's
// query or a libpq key/value string (libpq's password and sslpassword).
var secretParams = map[string]bool{"password": true, "sslpassword": true}

// keywordSecret finds a secret parameter of a libpq key/value string
// ("host=db password='it\'s secret'"): the keyword, the = with the spaces
// libpq allows around it, then the value, quoted (with \' and \\ escapes;
// an unterminated quote runs to the end) or bare (up to white space, with
// backslash escapes). \b keeps "sslpassword" from matching as "password"
// and leaves "my_password" alone.
var keywordSecret = regexp.MustCompile(`(?i)(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)*\\?)`)

// Redact returns a connection string, or a message quoting one, with every
// secret replaced by "xxxxx": the password of a URL's user information
// (postgres://, redis://, rediss://, smtp://, smtps://, s3://...), the
// password and sslpassword query parameters of a URL, and the password and
// sslpassword values of a libpq key/value string, quoted or not. A URL that
// does not parse (a password holding an unescaped / or #) is redacted
// from its last @ backwards, at the cost of hiding more than the password.
// "" stays "".
func Redact(conn string) string {
	if conn == "" {
		return ""
	}
	if u, err := url.Parse(conn); err == nil && u.Scheme != "" && strings.Contains(conn, "://") {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), mask)
		}
		u.RawQuery = redactQuery(u.RawQuery)
		return u.String()
	}
	return keywordSecret.ReplaceAllString(redactBrokenURLs(conn), "${1}"+mask)
}

// redactSentryDSN returns a Sentry DSN with its key hidden: the public key
// (the user name) and, in the legacy form, the secret key (the password).
// The DSN key is all it takes to send events to the project, so it is
// treated like a password.
func redactSentryDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return Redact(dsn)
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(mask, mask)
	} else {
		u.User = url.User(mask)
	}
	return u.String()
}

// redactQuery masks the secret parameters of a raw query, keeping the
// others and their order as they are.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if key, err := url.QueryUnescape(k); err == nil && secretParams[strings.ToLower(key)] {
			parts[i] = k + "=" + mask
		}
	}
	return strings.Join(parts, "&")
}

// redactBrokenURLs masks the user information of every scheme://... in s
// that url.Parse could not read: from the first : after the scheme to the
// last @ before white space or a quote, as a password holding / or # would
// leave it; and the secret query parameters after that @.
func redactBrokenURLs(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+3])
		s = s[i+3:]
		end := strings.IndexAny(s, " \t\r\n`'\"")
		if end < 0 {
			end = len(s)
		}
		tok := s[:end]
		if at := strings.LastIndexByte(tok, '@'); at >= 0 {
			if c := strings.IndexByte(tok[:at], ':'); c >= 0 {
				tok = tok[:c+1] + mask + tok[at:]
			}
		}
		if before, query, ok := strings.Cut(tok, "?"); ok {
			tok = before + "?" + redactQuery(query)
		}
		b.WriteString(tok)
		s = s[end:]
	}
}

package config

import (
	"net/url"
	"regexp"
	"strings"
)

// OIDCProvider is one platform-wide OpenID Connect identity provider users
// may sign in with. GROUNDWORK_OIDC_PROVIDERS lists their names, comma-
// separated (e.g. "google,microsoft"; default none); each name NAME then
// has its variables GROUNDWORK_OIDC_<NAME>_… with NAME upper-cased and
// dashes turned into underscores.
type OIDCProvider struct {
	// Name identifies the provider in URLs and in linked identities:
	// lower-case letters, digits and dashes. Renaming it unlinks every
	// identity linked through it.
	Name string
	// Label is what the log-in button says (GROUNDWORK_OIDC_<NAME>_LABEL,
	// default the name).
	Label string
	// Issuer is the provider's issuer URL (GROUNDWORK_OIDC_<NAME>_ISSUER,
	// required), https except for localhost.
	Issuer string
	// ClientID and ClientSecret are the app's credentials at the provider
	// (GROUNDWORK_OIDC_<NAME>_CLIENT_ID and _CLIENT_SECRET, required).
	ClientID, ClientSecret string
	// Scopes are asked besides openid (GROUNDWORK_OIDC_<NAME>_SCOPES,
	// space- or comma-separated; default "email profile").
	Scopes []string
}

// providerName is what a provider's name may be.
var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// oidcEnv is the name of provider name's variable suffix.
func oidcEnv(name, suffix string) string {
	return "GROUNDWORK_OIDC_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_" + suffix
}

func (p *parser) oidcProviders() []OIDCProvider {
	var out []OIDCProvider
	seen := map[string]bool{}
	for _, name := range strings.Split(p.getenv("GROUNDWORK_OIDC_PROVIDERS"), ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !providerName.MatchString(name) {
			p.fail("GROUNDWORK_OIDC_PROVIDERS", "%q is not a provider name (lower-case letters, digits and dashes)", name)
			return nil
		}
		if seen[name] {
			p.fail("GROUNDWORK_OIDC_PROVIDERS", "%q is listed twice", name)
			return nil
		}
		seen[name] = true
		pr := OIDCProvider{
			Name:         name,
			Label:        p.str(oidcEnv(name, "LABEL"), name),
			Issuer:       strings.TrimSpace(p.getenv(oidcEnv(name, "ISSUER"))),
			ClientID:     strings.TrimSpace(p.getenv(oidcEnv(name, "CLIENT_ID"))),
			ClientSecret: strings.TrimSpace(p.getenv(oidcEnv(name, "CLIENT_SECRET"))),
			Scopes:       strings.FieldsFunc(p.str(oidcEnv(name, "SCOPES"), "email profile"), func(r rune) bool { return r == ' ' || r == ',' }),
		}
		u, err := url.Parse(pr.Issuer)
		switch {
		case pr.Issuer == "":
			p.fail(oidcEnv(name, "ISSUER"), "required for the provider %q", name)
		case err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLocalhost(u.Hostname()))):
			p.fail(oidcEnv(name, "ISSUER"), "%q is not an https URL", pr.Issuer)
		case pr.ClientID == "":
			p.fail(oidcEnv(name, "CLIENT_ID"), "required for the provider %q", name)
		case pr.ClientSecret == "":
			p.fail(oidcEnv(name, "CLIENT_SECRET"), "required for the provider %q", name)
		}
		out = append(out, pr)
	}
	return out
}

// isLocalhost reports whether host is this machine, where an http issuer
// is allowed (development, tests).
func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// oidcRows are the OIDC providers' lines of Print.
func oidcRows(ps []OIDCProvider) [][2]string {
	names := make([]string, len(ps))
	for i, pr := range ps {
		names[i] = pr.Name
	}
	rows := [][2]string{{"GROUNDWORK_OIDC_PROVIDERS", strings.Join(names, ",")}}
	for _, pr := range ps {
		rows = append(rows,
			[2]string{oidcEnv(pr.Name, "LABEL"), pr.Label},
			[2]string{oidcEnv(pr.Name, "ISSUER"), pr.Issuer},
			[2]string{oidcEnv(pr.Name, "CLIENT_ID"), pr.ClientID},
			[2]string{oidcEnv(pr.Name, "CLIENT_SECRET"), redactSecret(pr.ClientSecret)},
			[2]string{oidcEnv(pr.Name, "SCOPES"), strings.Join(pr.Scopes, " ")})
	}
	return rows
}

package config

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadOIDCProviders(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"GROUNDWORK_OIDC_PROVIDERS":             " google , my-okta",
		"GROUNDWORK_OIDC_GOOGLE_ISSUER":         "https://accounts.google.com",
		"GROUNDWORK_OIDC_GOOGLE_CLIENT_ID":      "gid",
		"GROUNDWORK_OIDC_GOOGLE_CLIENT_SECRET":  "gsecret",
		"GROUNDWORK_OIDC_GOOGLE_LABEL":          "Google",
		"GROUNDWORK_OIDC_MY_OKTA_ISSUER":        "https://acme.okta.com/oauth2/default",
		"GROUNDWORK_OIDC_MY_OKTA_CLIENT_ID":     "oid",
		"GROUNDWORK_OIDC_MY_OKTA_CLIENT_SECRET": "osecret",
		"GROUNDWORK_OIDC_MY_OKTA_SCOPES":        "email,profile groups",
	}))
	require.NoError(t, err)
	require.Equal(t, []OIDCProvider{
		{Name: "google", Label: "Google", Issuer: "https://accounts.google.com", ClientID: "gid", ClientSecret: "gsecret",
			Scopes: []string{"email", "profile"}},
		{Name: "my-okta", Label: "my-okta", Issuer: "https://acme.okta.com/oauth2/default", ClientID: "oid", ClientSecret: "osecret",
			Scopes: []string{"email", "profile", "groups"}},
	}, c.OIDC)
	var buf bytes.Buffer
	c.Print(&buf)
	require.Contains(t, buf.String(), "GROUNDWORK_OIDC_PROVIDERS=google,my-okta\n")
	require.Contains(t, buf.String(), "GROUNDWORK_OIDC_GOOGLE_CLIENT_SECRET=xxxxx\n")
	require.NotContains(t, buf.String(), "gsecret")
}

func TestLoadOIDCProvidersRejects(t *testing.T) {
	t.Parallel()
	full := func(extra map[string]string) map[string]string {
		m := map[string]string{
			"GROUNDWORK_OIDC_PROVIDERS":            "google",
			"GROUNDWORK_OIDC_GOOGLE_ISSUER":        "https://accounts.google.com",
			"GROUNDWORK_OIDC_GOOGLE_CLIENT_ID":     "gid",
			"GROUNDWORK_OIDC_GOOGLE_CLIENT_SECRET": "gsecret",
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"bad name":     {full(map[string]string{"GROUNDWORK_OIDC_PROVIDERS": "Google!"}), "GROUNDWORK_OIDC_PROVIDERS:"},
		"twice":        {full(map[string]string{"GROUNDWORK_OIDC_PROVIDERS": "google,google"}), "listed twice"},
		"no issuer":    {full(map[string]string{"GROUNDWORK_OIDC_GOOGLE_ISSUER": ""}), "GROUNDWORK_OIDC_GOOGLE_ISSUER: required"},
		"http issuer":  {full(map[string]string{"GROUNDWORK_OIDC_GOOGLE_ISSUER": "http://idp.example"}), "not an https URL"},
		"no client id": {full(map[string]string{"GROUNDWORK_OIDC_GOOGLE_CLIENT_ID": ""}), "GROUNDWORK_OIDC_GOOGLE_CLIENT_ID: required"},
		"no secret":    {full(map[string]string{"GROUNDWORK_OIDC_GOOGLE_CLIENT_SECRET": ""}), "GROUNDWORK_OIDC_GOOGLE_CLIENT_SECRET: required"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(env(tc.env))
			require.ErrorContains(t, err, tc.want)
		})
	}
	c, err := Load(env(full(map[string]string{"GROUNDWORK_OIDC_GOOGLE_ISSUER": "http://localhost:9998"})))
	require.NoError(t, err, "http is allowed on localhost")
	require.Equal(t, "http://localhost:9998", c.OIDC[0].Issuer)
}

// Package ratelimit decides whether a caller may do something again: log in,
// sign up, send an email, call the API. It implements GCRA (the generic cell
// rate algorithm, a token bucket in disguise) behind one Limiter, with two
// backends: Memory, for a single instance, and Redis, so that several
// instances share one budget per key.
package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limit is a rate: Count events per Period, with bursts of up to Count. Under
// GCRA one event's budget comes back every Period/Count, so "20/min" allows
// 20 at once and then one every 3 seconds. The zero Limit is unlimited.
type Limit struct {
	Count  int
	Period time.Duration
}

// Unlimited reports whether l imposes no limit (the zero Limit, "off").
func (l Limit) Unlimited() bool { return l.Count <= 0 || l.Period <= 0 }

// String returns l in the form ParseLimit reads, e.g. "20/min" or "off".
func (l Limit) String() string {
	if l.Unlimited() {
		return "off"
	}
	unit := l.Period.String()
	switch l.Period {
	case time.Second:
		unit = "s"
	case time.Minute:
		unit = "min"
	case time.Hour:
		unit = "h"
	case 24 * time.Hour:
		unit = "day"
	}
	return strconv.Itoa(l.Count) + "/" + unit
}

// emission is the time one event's budget takes to come back.
func (l Limit) emission() time.Duration { return l.Period / time.Duration(l.Count) }

// units are the period names ParseLimit accepts besides Go durations.
var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
}

// maxCount bounds a limit's count, far above any sensible one, so that
// Period/Count stays a usable duration.
const maxCount = 1_000_000

// ParseLimit reads a limit written COUNT/PERIOD, where PERIOD is s, min, h or
// day (also sec, second, m, minute, hr, hour, d) or a Go duration such as
// 15m: "20/min", "5/h", "1000/s", "10/15m". "off" (or "0") means unlimited.
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return Limit{}, nil
	}
	count, per, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if !ok || err != nil || n < 1 || n > maxCount {
		return Limit{}, fmt.Errorf("%q is not a limit such as 20/min, 5/h or 1000/s (or off)", s)
	}
	per = strings.ToLower(strings.TrimSpace(per))
	period, ok := units[per]
	if !ok {
		period, err = time.ParseDuration(per)
		if err != nil || period < time.Second {
			return Limit{}, fmt.Errorf("%q is not a limit such as 20/min, 5/h or 1000/s (or off): the period must be s, min, h, day or a duration of at least 1s", s)
		}
	}
	if period/time.Duration(n) <= 0 {
		return Limit{}, fmt.Errorf("%q is too many events for its period", s)
	}
	return Limit{Count: n, Period: period}, nil
}

// Policy names what is limited and by which key. Its name appears in
// metrics, logs and the RateLimit headers.
type Policy string

// The policies of Groundwork, with the key each is counted by.
//
// Log-in failures follow OWASP's device cookies ("Slow Down Online Guessing
// Attacks with Device Cookies"): a browser that has signed in to an account
// carries a signed device token for it, and its failures count against that
// device's own budget (LoginDevice) instead of the account's. Every other
// browser is untrusted: its failures count per account and client IP
// (LoginAccountIP), the budget a person who mistypes meets, and per account
// from anywhere (LoginAccount), a larger budget that caps a guessing attack
// spread over many IPs. An attacker who exhausts LoginAccount then locks out
// only untrusted browsers; the owner's own devices still get in. LoginIP
// counts every failure of a client IP, device token or not.
const (
	LoginIP        Policy = "login-ip"         // failed log-ins per client IP
	LoginAccountIP Policy = "login-account-ip" // failed log-ins per account and client IP, without the account's device token
	LoginAccount   Policy = "login-account"    // failed log-ins per account (email, lowercased), without its device token
	LoginDevice    Policy = "login-device"     // failed log-ins per device token (a device that signed in to the account before)
	PasswordUser   Policy = "password-user"    // wrong passwords confirming a signed-in user's change (password, email, delete, two-factor off), per user
	PasswordIP     Policy = "password-ip"      // the same wrong passwords per client IP
	SignupIP       Policy = "signup-ip"        // sign-ups per client IP
	EmailAddress   Policy = "email-address"    // password-reset and verification emails per address
	EmailIP        Policy = "email-ip"         // password-reset and verification emails per client IP
	TwoFactor      Policy = "two-factor"       // failed two-factor codes per account (pending user)
	APIKey         Policy = "api-key"          // API requests per API key
	APIAuthIP      Policy = "api-auth-ip"      // failed API-key authentications (missing, unknown or revoked key) per client IP
	Search         Policy = "search"           // contact searches per caller (user or API key)
	SearchOrg      Policy = "search-org"       // contact searches per organisation, all callers together
)

// AllPolicies lists every policy, in a stable order (for configuration and
// documentation).
var AllPolicies = []Policy{LoginIP, LoginAccountIP, LoginAccount, LoginDevice, PasswordUser, PasswordIP,
	SignupIP, EmailAddress, EmailIP, TwoFactor, APIKey, APIAuthIP, Search, SearchOrg}

// EnvVar is the environment variable that sets p's limit, e.g.
// GROUNDWORK_RATE_LOGIN_IP for login-ip.
func (p Policy) EnvVar() string {
	return "GROUNDWORK_RATE_" + strings.ToUpper(strings.ReplaceAll(string(p), "-", "_"))
}

// Policies gives each policy its limit. A policy that is missing, or whose
// limit is the zero Limit, is unlimited.
type Policies map[Policy]Limit

// DefaultPolicies returns the default limit of every policy.
func DefaultPolicies() Policies {
	return Policies{
		LoginIP:        {Count: 20, Period: time.Minute},
		LoginAccountIP: {Count: 10, Period: time.Hour},
		LoginAccount:   {Count: 30, Period: time.Hour},
		LoginDevice:    {Count: 10, Period: time.Hour},
		PasswordUser:   {Count: 10, Period: time.Hour},
		PasswordIP:     {Count: 20, Period: time.Minute},
		SignupIP:       {Count: 10, Period: time.Hour},
		EmailAddress:   {Count: 5, Period: time.Hour},
		EmailIP:        {Count: 20, Period: time.Hour},
		TwoFactor:      {Count: 10, Period: time.Hour},
		APIKey:         {Count: 100, Period: time.Second},
		APIAuthIP:      {Count: 60, Period: time.Minute},
		Search:         {Count: 60, Period: time.Minute},
		SearchOrg:      {Count: 600, Period: time.Minute},
	}
}

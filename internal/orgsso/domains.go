package orgsso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// AddDomain adds an email domain to the scope's organisation, unverified,
// with a fresh token for its TXT record (Domain.Record). Recorded as
// sso.domain_added. Errors: ENOTFOUND, EFORBIDDEN (authz.SSOManage),
// EINVALID (not a domain name), ECONFLICT (added already).
func (s *Service) AddDomain(ctx context.Context, scope gw.Scope, domain string) (Domain, error) {
	if err := authz.Require(scope, authz.SSOManage); err != nil {
		return Domain{}, err
	}
	name, ok := normalizeDomain(domain)
	if !ok {
		return Domain{}, &gw.Error{Code: gw.EINVALID, Message: "Enter a domain name, e.g. example.com.",
			Fields: map[string]string{"domain": "Enter a domain name, e.g. example.com."}}
	}
	d := Domain{ID: gw.NewID(), Domain: name, Token: rand.Text(), CreatedAt: s.now()}
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if err := insertDomain(ctx, tx, scope.OrgID, d); err != nil {
			if gw.ErrorCode(err) == gw.ECONFLICT {
				return gw.Errorf(gw.ECONFLICT, "%s is added already.", name)
			}
			return err
		}
		return record(ctx, tx, scope, audit.ActionSSODomainAdded, audit.TargetSSODomain, d.ID, nil,
			map[string]any{"domain": name})
	})
	if err != nil {
		return Domain{}, fmt.Errorf("add sso domain: %w", err)
	}
	return d, nil
}

// VerifyDomain looks up the TXT records of domain id (at the domain and at
// _groundwork.<domain>) and marks it verified when one is its Record. A
// domain is verified by at most one organisation. Recorded as
// sso.domain_verified. Errors: ENOTFOUND, EFORBIDDEN (authz.SSOManage),
// EINVALID (no such record: the message says what was found), ECONFLICT
// (another organisation verified it), EUNAVAILABLE (DNS did not answer).
func (s *Service) VerifyDomain(ctx context.Context, scope gw.Scope, id string) (Domain, error) {
	if err := authz.Require(scope, authz.SSOManage); err != nil {
		return Domain{}, err
	}
	if !gw.ValidID(id) {
		return Domain{}, gw.Errorf(gw.ENOTFOUND, "No such domain.")
	}
	var d Domain
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		var err error
		d, err = getDomain(ctx, tx, scope.OrgID, id)
		return err
	})
	if err != nil {
		if gw.ErrorCode(err) == gw.ENOTFOUND {
			return Domain{}, gw.Errorf(gw.ENOTFOUND, "No such domain.")
		}
		return Domain{}, fmt.Errorf("read sso domain: %w", err)
	}
	if d.VerifiedAt != nil {
		return d, nil
	}
	if err := s.checkRecord(ctx, d); err != nil {
		return Domain{}, err
	}
	now := s.now()
	err = postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if err := setDomainVerified(ctx, tx, scope.OrgID, d.ID, now); err != nil {
			if gw.ErrorCode(err) == gw.ECONFLICT {
				return gw.Errorf(gw.ECONFLICT, "%s is verified by another organisation already.", d.Domain)
			}
			return err
		}
		return record(ctx, tx, scope, audit.ActionSSODomainVerified, audit.TargetSSODomain, d.ID, nil,
			map[string]any{"domain": d.Domain})
	})
	if err != nil {
		return Domain{}, fmt.Errorf("verify sso domain: %w", err)
	}
	d.VerifiedAt = &now
	return d, nil
}

// checkRecord looks for d's TXT record.
func (s *Service) checkRecord(ctx context.Context, d Domain) error {
	var seen []string
	for _, name := range d.RecordNames() {
		txts, err := s.cfg.Resolver.LookupTXT(ctx, name)
		if err != nil {
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
				continue
			}
			return fmt.Errorf("look up TXT %s: %v: %w", name, err,
				gw.Errorf(gw.EUNAVAILABLE, "The DNS lookup of %s failed. Try again later.", name))
		}
		for _, txt := range txts {
			txt = strings.TrimSpace(txt)
			if subtle.ConstantTimeCompare([]byte(txt), []byte(d.Record())) == 1 {
				return nil
			}
			if strings.HasPrefix(txt, TXTPrefix) {
				seen = append(seen, name)
			}
		}
	}
	if len(seen) > 0 {
		return gw.Errorf(gw.EINVALID, "The TXT record at %s holds another token: set it to %s.", seen[0], d.Record())
	}
	return gw.Errorf(gw.EINVALID, "No TXT record %s was found at %s or %s. DNS changes can take a while to show; try again later.",
		d.Record(), d.RecordNames()[0], d.RecordNames()[1])
}

// RemoveDomain removes domain id from the scope's organisation; members
// with its addresses are then no longer bound to single sign-on. Recorded
// as sso.domain_removed. Errors: ENOTFOUND, EFORBIDDEN (authz.SSOManage).
func (s *Service) RemoveDomain(ctx context.Context, scope gw.Scope, id string) error {
	if err := authz.Require(scope, authz.SSOManage); err != nil {
		return err
	}
	if !gw.ValidID(id) {
		return gw.Errorf(gw.ENOTFOUND, "No such domain.")
	}
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		d, err := getDomain(ctx, tx, scope.OrgID, id)
		if err != nil {
			return err
		}
		if err := deleteDomain(ctx, tx, scope.OrgID, id); err != nil {
			return err
		}
		return record(ctx, tx, scope, audit.ActionSSODomainRemoved, audit.TargetSSODomain, id,
			map[string]any{"domain": d.Domain, "verified": d.VerifiedAt != nil}, nil)
	})
	if err != nil {
		return fmt.Errorf("remove sso domain: %w", err)
	}
	return nil
}

// OrgForEmail returns the ID of the organisation that verified email's
// domain. Errors: ENOTFOUND (no organisation did, or no domain).
func (s *Service) OrgForEmail(ctx context.Context, email string) (string, error) {
	domain := emailDomain(email)
	if name, ok := normalizeDomain(domain); ok {
		domain = name
	} else {
		return "", gw.Errorf(gw.ENOTFOUND, "Enter your work email address.")
	}
	orgID, err := verifiedDomainOrg(ctx, s.pool, domain)
	if err != nil {
		if gw.ErrorCode(err) == gw.ENOTFOUND {
			return "", gw.Errorf(gw.ENOTFOUND, "No organisation uses single sign-on for %s. Log in with your password or ask your administrator.", domain)
		}
		return "", fmt.Errorf("find sso domain: %w", err)
	}
	return orgID, nil
}

// normalizeDomain returns domain in lower case, when it is a domain name
// of at least two labels in ASCII (an internationalised domain is entered
// in its xn-- form).
func normalizeDomain(domain string) (string, bool) {
	ascii := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	if len(ascii) > 253 || !strings.Contains(ascii, ".") {
		return "", false
	}
	for _, label := range strings.Split(ascii, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "", false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return "", false
			}
		}
	}
	return ascii, true
}

// domainHash is the SHA-256 of a normalized domain: the secret_hash that
// makes its verified row visible to "Continue with SSO".
func domainHash(domain string) []byte {
	h := sha256.Sum256([]byte(domain))
	return h[:]
}

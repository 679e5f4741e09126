package org

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// BillingContacts returns the organisation's name and the email addresses
// of its billing contacts: the members whose role has authz.BillingManage.
// It is for the billing module's emails (payment failed, recovered), sent by
// a background job with no caller to authorize.
func (s *Service) BillingContacts(ctx context.Context, orgID string) (string, []string, error) {
	var name string
	var emails []string
	err := postgres.InOrgTx(ctx, s.pool, orgID, func(tx pgx.Tx) error {
		o, err := orgByRef(ctx, tx, orgID)
		if err != nil {
			return err
		}
		name = o.Name
		members, err := listMembers(ctx, tx, orgID)
		if err != nil {
			return err
		}
		for _, m := range members {
			if authz.Can(m.Role, authz.BillingManage) {
				emails = append(emails, m.Email)
			}
		}
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("billing contacts of %s: %w", orgID, err)
	}
	return name, emails, nil
}

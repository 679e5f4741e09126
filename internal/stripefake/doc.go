// Package stripefake is a stateful, in-process fake of the subset of the Stripe
// API that the billing module uses. It holds the truth (customers, checkout
// sessions, subscriptions and their schedules, invoices, charges, disputes,
// customer portal configurations and sessions, events), speaks Stripe's
// wire format (form-encoded requests, JSON responses built from stripe-go's
// types, so stripe-go's client decodes them), and emits webhook events signed
// exactly like Stripe's.
//
// Time is a controllable clock (Advance); lifecycle transitions that Stripe
// performs on its own (checkout completion, renewals, payment attempts,
// dunning, disputes, trials) are driven by explicit test helpers.
//
// Every request is recorded (Requests) so its shape can be checked against
// stripe-mock with CheckShapesAgainstStripeMock.
//
// Where the billing module relies on Stripe's documented behaviour, the fake
// is as strict as the documentation (each rule names its page):
//
//   - idempotency keys (idempotency.go): a POST with a key replays the
//     first response for IdempotencyKeyTTL (24 hours by the fake's clock),
//     even when the object changed since; a key reused with other
//     parameters is 400 idempotency_error; refused requests
//     (invalid_request_error) are not saved;
//   - events keep the API version of their creation (Options.APIVersion,
//     SetAPIVersion), and a delivery may render them in an endpoint's
//     version (DeliverOptions.APIVersion);
//   - DELETE /v1/customers/{id} cancels the customer's subscriptions and
//     emits customer.deleted; the customer then reads as {"deleted": true}
//     without metadata, and requests naming it fail with resource_missing;
//   - GET /v1/events filters by created, type (wildcards), types (at most
//     20 exact names) and delivery_success (events not yet delivered to
//     every endpoint Deliver has been given, including those Stripe gave up
//     on: DeliverOptions.GiveUp).
//
// # Proration
//
// Proration is computed deterministically, per subscription item, over the
// current period [start, end) at the proration date d (start <= d < end):
//
//	remaining = end - d                 (seconds)
//	period    = end - start             (seconds)
//	credit    = -round(oldUnitAmount * oldQty * remaining / period)
//	charge    = +round(newUnitAmount * newQty * remaining / period)
//
// where round is round-half-away-from-zero on integers. The preview
// (POST /v1/invoices/create_preview with subscription_details[proration_date])
// contains exactly those two lines per changed item, and an update with
// proration_behavior=always_invoice and the same proration_date invoices
// exactly the same lines, so the invoice total equals the preview total.
// With proration_behavior=create_prorations the lines are kept as pending and
// added to the next renewal invoice; with none nothing is prorated.
//
// # Tax
//
// Tax follows Stripe Tax: it is computed only for invoices of subscriptions
// with automatic_tax[enabled]=true (set from the checkout session), once,
// when the invoice is built; the fake never recomputes an existing invoice.
// The outcome depends on the customer (SetTaxLocation, SetTaxExempt):
//
//   - supported location, tax_exempt=none (the default): tax =
//     round(subtotal * Options.TaxBasisPoints / 10000) on a positive subtotal,
//     one total_taxes entry (taxability_reason standard_rated) when non-zero,
//     automatic_tax.status=complete;
//   - tax_exempt=reverse / exempt: one total_taxes entry of 0 with
//     reverse_charge / customer_exempt, total = subtotal;
//   - not_collecting: one entry of 0 with not_collecting;
//   - unrecognized_location: automatic_tax.status=requires_location_inputs
//     (failed: status failed), no tax; the invoice is not finalized: it stays
//     a draft with last_finalization_error (customer_tax_location_invalid)
//     and invoice.finalization_failed is emitted. Item changes
//     (POST /v1/subscriptions/{id} with items) and
//     POST /v1/invoices/create_preview fail with 400
//     customer_tax_location_invalid, and so does a checkout session with
//     automatic tax for that customer unless customer_update[address] (or
//     [shipping]) is auto; completing such a session makes the location
//     supported (Checkout collected the address).
//
// customer.tax is rendered only with expand[]=tax, as by Stripe.
//
// # Subscription schedules
//
// POST /v1/subscription_schedules takes only from_subscription: one phase
// with the subscription's items over the current period, end_behavior
// release, and subscription.schedule set. Updates replace the phases
// (phases[i][items][j][price|quantity], [start_date], [end_date] or
// [duration], [proration_behavior]); the first phase must be the current one,
// unchanged in start and items; a phase without an end lasts one interval of
// its first price. Phase boundaries take effect at renewals (Renew): the
// subscription takes the next phase's items before the renewal invoice is
// built, so the invoice bills the new price with no proration lines. When
// the last phase ends the schedule is released (end_behavior=release; the
// subscription keeps its items) or completed and the subscription canceled
// (cancel). A direct item update of a scheduled subscription is allowed and
// rewrites the current phase; canceling the subscription cancels the schedule.
//
// # Customer portal
//
// POST /v1/billing_portal/configurations stores the features it is given
// (prices in features[subscription_update][products] must belong to the
// product); POST /v1/billing_portal/sessions needs an existing customer and
// returns url <URL>/portal/<id>, using the configuration given or a default
// one, and return_url or the configuration's default_return_url.
package stripefake

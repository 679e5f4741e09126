package billing

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"
)

func TestEventObjectOf(t *testing.T) {
	t.Parallel()
	ev := func(raw string) *stripe.Event {
		return &stripe.Event{Data: &stripe.EventData{Raw: json.RawMessage(raw)}}
	}
	for _, tc := range []struct {
		name   string
		ev     *stripe.Event
		want   eventObject
		wantOK bool
	}{
		{name: "an invoice", ev: ev(`{"id":"in_1","object":"invoice","attempt_count":2,"customer":"cus_1"}`),
			want: eventObject{ID: "in_1", Object: "invoice", AttemptCount: 2, Customer: json.RawMessage(`"cus_1"`)}, wantOK: true},
		{name: "a subscription", ev: ev(`{"id":"sub_1","object":"subscription"}`),
			want: eventObject{ID: "sub_1", Object: "subscription"}, wantOK: true},
		{name: "no data", ev: &stripe.Event{}},
		{name: "not JSON", ev: ev(`{`)},
		{name: "no ID", ev: ev(`{"object":"invoice"}`)},
		{name: "not an object", ev: ev(`"in_1"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := eventObjectOf(tc.ev)
			require.Equal(t, tc.wantOK, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestEventObjectReferences: the customer and subscription IDs an event's
// object names, as a string or an expanded object, and an invoice's
// subscription in the place of either API version (before and from
// 2025-03-31.basil, https://docs.stripe.com/changelog/basil).
func TestEventObjectReferences(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw, customer, subscription string
	}{
		{`{"id":"in_1","object":"invoice","customer":"cus_1","parent":{"subscription_details":{"subscription":"sub_1"}}}`, "cus_1", "sub_1"},
		{`{"id":"in_1","object":"invoice","customer":{"id":"cus_1","object":"customer"},"subscription":"sub_0"}`, "cus_1", "sub_0"},
		{`{"id":"in_1","object":"invoice","customer":null,"parent":{"subscription_details":null}}`, "", ""},
		{`{"id":"in_1","object":"invoice","parent":{"subscription_details":{"subscription":{"id":"sub_2"}}},"subscription":"sub_0"}`, "", "sub_2"},
	} {
		obj, ok := eventObjectOf(&stripe.Event{Data: &stripe.EventData{Raw: json.RawMessage(tc.raw)}})
		require.True(t, ok, tc.raw)
		require.Equal(t, tc.customer, idOf(obj.Customer), tc.raw)
		require.Equal(t, tc.subscription, obj.invoiceSubscription(), tc.raw)
	}
}

func TestCustomerOrg(t *testing.T) {
	t.Parallel()
	require.Equal(t, "org", customerOrg(&stripe.Customer{Metadata: map[string]string{CustomerOrgMetadata: " org "}}))
	require.Empty(t, customerOrg(&stripe.Customer{Metadata: map[string]string{"other": "x"}}))
	require.Empty(t, customerOrg(&stripe.Customer{}))
}

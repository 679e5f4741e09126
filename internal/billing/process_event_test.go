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
			want: eventObject{ID: "in_1", Object: "invoice", AttemptCount: 2}, wantOK: true},
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

func TestCustomerOrg(t *testing.T) {
	t.Parallel()
	require.Equal(t, "org", customerOrg(&stripe.Customer{Metadata: map[string]string{CustomerOrgMetadata: " org "}}))
	require.Empty(t, customerOrg(&stripe.Customer{Metadata: map[string]string{"other": "x"}}))
	require.Empty(t, customerOrg(&stripe.Customer{}))
}

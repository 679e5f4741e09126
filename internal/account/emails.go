package account

import (
	"fmt"
	"time"

	"github.com/groundwork-dev/groundwork/internal/mail"
)

// The emails the Service sends: short plain text, one link each at most.

func (s *Service) verifyEmail(to, token string) mail.Message {
	return mail.Message{To: to, Subject: "Verify your email address", Text: fmt.Sprintf(
		"Welcome to %s!\n\nTo confirm that this is your email address, open this link:\n\n%s\n\n"+
			"The link works once and expires in %s. If you did not sign up, ignore this email.\n",
		s.cfg.Issuer, s.link(VerifyEmailPath, token), humanDuration(s.cfg.VerifyTTL))}
}

func (s *Service) signUpAttemptEmail(to string) mail.Message {
	return mail.Message{To: to, Subject: "Someone tried to sign up with your email address", Text: fmt.Sprintf(
		"Someone, maybe you, tried to create a %s account with this email address. "+
			"You already have an account, so nothing was created.\n\n"+
			"To sign in: %s\n\nForgot your password? Reset it here: %s\n\n"+
			"If it wasn't you, ignore this email; your account is unchanged.\n",
		s.cfg.Issuer, s.link(LoginPath, ""), s.link(ForgotPasswordPath, ""))}
}

func (s *Service) resetEmail(to, token string) mail.Message {
	return mail.Message{To: to, Subject: "Reset your password", Text: fmt.Sprintf(
		"To choose a new password for your %s account, open this link:\n\n%s\n\n"+
			"The link works once and expires in %s. If you did not ask to reset your password, "+
			"ignore this email; your password is unchanged.\n",
		s.cfg.Issuer, s.link(ResetPasswordPath, token), humanDuration(s.cfg.ResetTTL))}
}

func (s *Service) passwordChangedEmail(to string) mail.Message {
	return mail.Message{To: to, Subject: "Your password was changed", Text: fmt.Sprintf(
		"The password of your %s account was just changed, and every session was signed out.\n\n"+
			"If you did not do this, reset your password now: %s\n",
		s.cfg.Issuer, s.link(ForgotPasswordPath, ""))}
}

func (s *Service) confirmEmailChangeEmail(to, token string) mail.Message {
	return mail.Message{To: to, Subject: "Confirm your new email address", Text: fmt.Sprintf(
		"To make this the email address of your %s account, open this link:\n\n%s\n\n"+
			"The link works once and expires in %s. If you did not ask for this, ignore this email.\n",
		s.cfg.Issuer, s.link(ConfirmEmailPath, token), humanDuration(s.cfg.VerifyTTL))}
}

func (s *Service) emailChangeNoticeEmail(to, newEmail string) mail.Message {
	return mail.Message{To: to, Subject: "Your email address is being changed", Text: fmt.Sprintf(
		"Someone signed in to your %s account asked to change its email address to %s. "+
			"The change happens once the new address is confirmed.\n\n"+
			"If this wasn't you, change your password now: %s\n",
		s.cfg.Issuer, newEmail, s.link(ForgotPasswordPath, ""))}
}

func (s *Service) emailTakenEmail(to string) mail.Message {
	return mail.Message{To: to, Subject: "Someone tried to move an account to your email address", Text: fmt.Sprintf(
		"Someone asked to change the email address of a %s account to this one, which already has an account. "+
			"Nothing was changed. If you did not ask for this, ignore this email.\n", s.cfg.Issuer)}
}

func (s *Service) twoFactorEmail(to string, on bool) mail.Message {
	if on {
		return mail.Message{To: to, Subject: "Two-factor authentication is on", Text: fmt.Sprintf(
			"Two-factor authentication is now on for your %s account: signing in takes a code from your "+
				"authenticator app, or one of your recovery codes. Keep the recovery codes somewhere safe.\n",
			s.cfg.Issuer)}
	}
	return mail.Message{To: to, Subject: "Two-factor authentication is off", Text: fmt.Sprintf(
		"Two-factor authentication was turned off for your %s account.\n\n"+
			"If you did not do this, reset your password now: %s\n",
		s.cfg.Issuer, s.link(ForgotPasswordPath, ""))}
}

func (s *Service) accountDeletedEmail(to string) mail.Message {
	return mail.Message{To: to, Subject: "Your account was deleted", Text: fmt.Sprintf(
		"Your %s account and its data have been deleted. We're sorry to see you go.\n", s.cfg.Issuer)}
}

// humanDuration writes d as a reader would: "48 hours", "1 hour", "30 minutes".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int64(d/time.Minute), "minute")
	}
	return plural(int64(d/time.Second), "second")
}

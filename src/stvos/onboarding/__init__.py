"""Anonymous onboarding: answers collected before sign-up, merged into the new account."""

from stvos.kit.errors import NotFound, ValidationFailed


class OnboardingSessionNotFound(NotFound):
    default_message = "No such onboarding session (it may have expired or been used)"


class OnboardingSessionUnusable(ValidationFailed):
    default_message = "The onboarding session does not exist, has expired or was already used"

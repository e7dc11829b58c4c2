"""Progress logging: workouts, meals and water, with per-day summaries and streaks."""

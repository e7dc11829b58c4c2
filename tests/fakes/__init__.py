"""Local fake servers speaking outside services' wire formats, started by the tests."""

"""How things read in Telegram: pure functions from data and a translator to text."""

"""The public portal: security advice in French and English, and links to every public
service, without an account."""

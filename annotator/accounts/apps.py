from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users and API tokens."""

    name = "annotator.accounts"
    label = "accounts"

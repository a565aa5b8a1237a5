from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "curation.accounts"
    label = "accounts"

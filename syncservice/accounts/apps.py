from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "syncservice.accounts"
    label = "accounts"
    verbose_name = "Accounts"

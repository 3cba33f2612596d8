"""Bullhorn: the ATS/CRM REST API (Bullhorn for staffing).

Login: ``loginInfo?username=`` gives the data center's OAuth and REST URLs; an OAuth 2 code
(``/oauth/authorize`` with the API user's credentials) or a refresh token is exchanged at
``/oauth/token`` (refresh tokens are single-use: each refresh returns the next one, which the
connector must store), then ``/rest-services/login`` returns the ``BhRestToken`` and the
session's ``restUrl``. Entities are read with ``search/{Entity}`` (Lucene,
``dateLastModified:[from TO to]``) or ``query/{Entity}`` (``where=dateLastModified>=...``),
``fields=``, ``count`` up to 500 and ``start`` offsets, ordered by ``dateLastModified``
(epoch milliseconds). Entity names are Bullhorn's (``JobOrder``, ``ClientCorporation``).

Bullhorn REST API.

Login, as Bullhorn documents it: ``loginInfo?username=`` gives the data center's ``oauthUrl``
and ``restUrl``; an authorization code (``{oauthUrl}/authorize?action=Login`` with the API
user's credentials, read from the redirect's ``code``) or the stored refresh token is exchanged
at ``{oauthUrl}/token``; ``{restUrl}/login?version=2.0&access_token=`` returns the session's
``BhRestToken`` (sent as the ``BhRestToken`` header) and ``restUrl``. A 401 logs in again once.
Refresh tokens are single-use: each login's new one replaces the connection's stored
``refresh_token`` at once (``rotate_secret``); the first login may use the API user's password
(authorization code) and then keeps the refresh token it was given.

Entities are read with ``query/{Entity}?where=dateLastModified>{epoch ms}&fields=...
&orderBy=dateLastModified&count=...&start=...`` (``data`` records, ``start``/``count`` pages).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from syncs.connectors.http_api import AuthFailed
from syncs.providers import schemas as js
from syncs.providers._saas import SaasSource, first_run_start, registered
from syncs.providers.base import ResourceSpec, cursor_window, define_provider
from syncs.providers.resources import snapshot

CONFIG_SCHEMA = js.obj({
    "username": js.string("Username of the Bullhorn API user.", minLength=1),
    "login_info_url": js.http_url("loginInfo endpoint resolving the data center's URLs.",
                                  default="https://rest.bullhornstaffing.com/rest-services/"
                                       "loginInfo"),
    "auth_url": js.http_url("Override of the OAuth host (e.g. https://auth-east.bullhornstaffing"
                            ".com); default: from loginInfo."),
    "base_url": js.base_url("the session's restUrl, e.g. https://rest-east.bullhornstaffing.com/"
                            "rest-services/{corpToken}/"),
    "page_size": js.page_size(500, 500, "count of search/query requests."),
    "start_date": js.start_date(),
}, required=["username"], title="Bullhorn connection",
    examples=[{"username": "acme.api"}])

SECRETS_SCHEMA = js.obj({
    "client_id": js.secret("OAuth client id issued by Bullhorn."),
    "client_secret": js.secret("OAuth client secret."),
    "password": js.secret("Password of the API user (to obtain authorization codes)."),
    "refresh_token": js.secret("Current refresh token (rotated on every use)."),
}, required=["client_id", "client_secret"], title="Bullhorn secrets",
    **{"if": {"required": ["refresh_token"]}, "else": {"required": ["password"]}},
    examples=[{"client_id": "example-client", "client_secret": "example-secret",
               "password": "example-password"}])

ENTITY_CONFIG = js.obj({
    "fields": js.string_list("Fields requested (default: every non-association field)."),
})

ENTITIES = [
    # entity_key, Bullhorn entity, display name, description, size, selected by default
    ("candidate", "Candidate", "Candidates", "Candidates: name, contact details, status, "
     "owner, source, skills, address.", "l", True),
    ("client_corporation", "ClientCorporation", "Client companies",
     "Client companies: name, status, industry, address, owners.", "s", True),
    ("client_contact", "ClientContact", "Client contacts",
     "Contacts at client companies.", "m", True),
    ("job_order", "JobOrder", "Job orders", "Jobs: title, client, status, openings, "
     "employment type, pay and bill rates, owner.", "m", True),
    ("job_submission", "JobSubmission", "Submissions",
     "Candidates submitted to jobs, with status and source.", "l", True),
    ("placement", "Placement", "Placements", "Placements: candidate, job, start and end "
     "dates, pay and bill rates, status.", "m", True),
    ("appointment", "Appointment", "Appointments", "Interviews and meetings.", "m", False),
    ("note", "Note", "Notes", "Notes and activity comments on candidates, contacts and jobs.",
     "xl", False),
    ("task", "Task", "Tasks", "Tasks assigned to users.", "m", False),
]

RESOURCES = [
    ResourceSpec(entity_key=key, display_name=display, source_name=entity,
                 description=f"{description} Entity {entity}.",
                 cursor_field="dateLastModified", primary_key=["id"], load_mode="upsert",
                 size_class=size, default_selected=default,
                 slicing=cursor_window("dateLastModified", "P30D", "epoch_ms"),
                 config_schema=ENTITY_CONFIG)
    for key, entity, display, description, size, default in ENTITIES
] + [
    snapshot("corporate_user", "Users", "CorporateUser", "Bullhorn users (recruiters, account "
             "managers): name, email, department, enabled flag. Entity CorporateUser.",
             config_schema=ENTITY_CONFIG),
]

SPEC = define_provider("bullhorn", "Bullhorn",
    "Candidates, jobs, submissions, placements and client records of a Bullhorn ATS.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES)


@registered
class BullhornSource(SaasSource):
    provider = "bullhorn"
    service = "Bullhorn"
    credential_noun = "the session"
    credential_hint = ("check the API user's username and password (or the refresh token) and "
                       "the OAuth client id and secret")

    def engine_config(self, settings: dict) -> dict:
        size = settings["page_size"]
        since = first_run_start(settings)
        self.rest_url = settings.get("base_url")
        streams = []
        for resource in self.spec.resources:
            incremental = resource.cursor_field is not None
            stream = self.stream(
                resource.entity_key, path=f"query/{resource.source_name}",
                record_selector="data",
                params={"fields": "{fields}", "count": size, "where": "id>0",
                        **({"orderBy": "dateLastModified"} if incremental else {})},
                defaults={"fields": "*"}, cursor_format="epoch_ms", start_date=since)
            if incremental:
                stream["cursor_params"] = {"where": "dateLastModified>{cursor}"}
                stream["window_params"] = {
                    "where": "dateLastModified>={start} AND dateLastModified<{end}"}
            streams.append(stream)
        return {
            "base_url": self.rest_url or "https://rest.bullhornstaffing.com/rest-services/",
            "auth": {"type": "oauth2", "header": "BhRestToken", "prefix": ""},
            "pagination": {"type": "offset", "offset_param": "start", "limit_param": "count",
                           "page_size": size},
            "check": {"path": "ping"},
            "max_retries": 5,
            "streams": streams,
        }

    def read(self, entity, *, cursor=None, window=None, entity_config=None):
        def batches():
            self.auth_headers()  # log in first: the session's restUrl is the base URL
            yield from SaasSource.read(self, entity, cursor=cursor, window=window,
                                       entity_config=entity_config)

        return self.guarded(batches())

    def check_request(self) -> None:
        self.auth_headers()
        super().check_request()

    def read_stream(self, stream, **kwargs):
        fields = (kwargs.get("entity_config") or {}).get("fields")
        if isinstance(fields, list):
            kwargs["entity_config"] = {**kwargs["entity_config"], "fields": ",".join(fields)}
        return super().read_stream(stream, **kwargs)

    def fetch_token(self) -> tuple[str, float | None]:
        """The whole login: loginInfo, OAuth token, REST login; returns the BhRestToken."""
        settings = self.settings
        info = self._send("GET", settings["login_info_url"],
                          params={"username": settings["username"]}, authenticated=False)
        if info.status_code >= 400:
            raise AuthFailed(f"Bullhorn loginInfo answered {info.status_code} for the "
                             f"configured username: check the username.",
                             status=info.status_code)
        urls = info.json()
        oauth = (settings.get("auth_url").rstrip("/") + "/oauth") if settings.get("auth_url") \
            else urls.get("oauthUrl", "").rstrip("/")
        rest = (urls.get("restUrl") or "").rstrip("/")
        form = {"client_id": self._secret("client_id"),
                "client_secret": self._secret("client_secret")}
        if self.secrets.get("refresh_token"):
            form.update(grant_type="refresh_token", refresh_token=self._secret("refresh_token"))
        else:
            form.update(grant_type="authorization_code", code=self._authorization_code(oauth))
        document = self.post_token(f"{oauth}/token", form)
        if document.get("refresh_token"):
            self.rotate_secret("refresh_token", str(document["refresh_token"]))
        access = document.get("access_token")
        if not access:
            raise AuthFailed("Bullhorn token endpoint answered without an access token.")
        self.redact.add(access)
        login = self._send("POST", f"{rest}/login", authenticated=False,
                           params={"version": "2.0", "access_token": access})
        if login.status_code >= 400:
            raise AuthFailed(f"Bullhorn rejected the REST login ({login.status_code}): "
                             f"{self.credential_hint}", status=login.status_code)
        session = login.json()
        if not self.settings.get("base_url") and session.get("restUrl"):
            self.base_url = session["restUrl"].rstrip("/") + "/"
        return session["BhRestToken"], 540.0  # sessions idle out after 10 minutes

    def _authorization_code(self, oauth: str) -> str:
        response = self._send("GET", f"{oauth}/authorize", authenticated=False, params={
            "client_id": self._secret("client_id"), "response_type": "code",
            "action": "Login", "username": self.settings["username"],
            "password": self._secret("password")})
        location = response.headers.get("Location", "")
        code = parse_qs(urlsplit(location).query).get("code", [None])[0]
        if response.status_code >= 400 or not code:
            raise AuthFailed(f"Bullhorn rejected the API user's credentials "
                             f"({response.status_code}): {self.credential_hint}",
                             status=response.status_code)
        self.redact.add(code)
        return code

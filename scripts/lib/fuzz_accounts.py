"""Creates one signed-in account per role through the API itself, for
scripts/fuzz-api: an HQ admin (MFA passed), a franchisee of a territory (MFA
passed, invited by HQ), a pro (invited by the franchisee, approved, offering a
service with weekly hours) and a customer (with a booking). Prints shell
assignments of their bearer tokens.

Usage: fuzz_accounts.py BASE_URL TERRITORY HQ_EMAIL HQ_PASSWORD
Mailed tokens are read from hq.mail_outbox with psql (PGHOST etc. set): the
outbox keeps addresses as keyed hashes and bodies sealed, so they are found
and opened with the demo keys the fuzzed server runs with.
"""

import base64
import datetime
import hashlib
import hmac
import subprocess
import sys
import time
import uuid

import pyotp
import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

BASE, TERRITORY, HQ_EMAIL, HQ_PASSWORD = sys.argv[1:5]
TERRITORY_HOST = f"{TERRITORY}.localhost"
HQ_HOST = "hq.localhost"
PASSWORD = "fuzzing-wachtwoord-" + uuid.uuid4().hex[:8]


def call(method, host, path, token=None, expect=(200,), **kwargs):
    headers = {"Host": host}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(kwargs.pop("headers", {}))
    response = requests.request(method, BASE + path, headers=headers, timeout=30, **kwargs)
    if response.status_code not in expect:
        sys.exit(f"{method} {host}{path}: {response.status_code} {response.text}")
    return response.json() if response.content else None


# careservice::privacy::keys::DEMO_KEYS: key version 1 and the lookup key.
DEMO_KEY = "ZGVtby1rZXktbm90LWZvci1wcm9kdWN0aW9uLTEyMzQ"
DEMO_LOOKUP_KEY = "ZGVtby1sb29rdXAta2V5LW5vdC1mb3ItcHJvZHVjdGlvbg"


def unbase64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def opened_body(mail_id, sealed):
    """A mail body sealed as `enc:v1:BASE64(nonce || ciphertext)`, bound to its row."""
    version, payload = sealed.removeprefix("enc:v").split(":", 1)
    if version != "1":
        sys.exit(f"mail {mail_id} is sealed with key {version}, not the demo key")
    raw = unbase64(payload)
    place = f"careservice/hq/mail_outbox/body/{mail_id}".encode()
    return AESGCM(unbase64(DEMO_KEY)).decrypt(raw[:12], raw[12:], place).decode()


def mailed_token(address):
    """The last token mailed to an address: the line after the blank line."""
    lookup = hmac.new(unbase64(DEMO_LOOKUP_KEY), address.strip().lower().encode(), hashlib.sha256).hexdigest()
    for _ in range(50):
        found = subprocess.run(
            ["psql", "-At", "-F", " ", "-d", "careservice", "-c",
             "SELECT id, body FROM hq.mail_outbox WHERE to_lookup = '%s' ORDER BY created_at DESC LIMIT 1" % lookup],
            check=True, capture_output=True, text=True).stdout.strip()
        body = opened_body(*found.split(" ", 1)) if found else ""
        lines = [line.strip() for line in body.splitlines()]
        for i, line in enumerate(lines[:-1]):
            if line == "" and lines[i + 1]:
                return lines[i + 1]
        time.sleep(0.1)
    sys.exit(f"no token mailed to {address}")


def sign_in(host, email, password=PASSWORD):
    return call("POST", host, "/api/v1/auth/sign-in", json={"email": email, "password": password})["token"]


def pass_mfa(host, token):
    """Enrols TOTP and confirms it: the session has passed MFA."""
    secret = call("POST", host, "/api/v1/auth/mfa/enrol", token)["secret"]
    call("POST", host, "/api/v1/auth/mfa/confirm", token, json={"code": pyotp.TOTP(secret).now()})


def accept_invitation(email, name):
    call("POST", HQ_HOST, "/api/v1/auth/invitations/accept",
         json={"token": mailed_token(email), "display_name": name, "password": PASSWORD})


hq = sign_in(HQ_HOST, HQ_EMAIL, HQ_PASSWORD)
pass_mfa(HQ_HOST, hq)

franchisee_email = f"franchisee-{TERRITORY}@fuzz.localhost"
call("POST", HQ_HOST, f"/api/v1/hq/territories/{TERRITORY}/invitations", hq, expect=(201,),
     json={"email": franchisee_email})
accept_invitation(franchisee_email, "Fuzz Franchisee")
franchisee = sign_in(TERRITORY_HOST, franchisee_email)
pass_mfa(TERRITORY_HOST, franchisee)

pro_email = f"pro-{TERRITORY}@fuzz.localhost"
call("POST", TERRITORY_HOST, "/api/v1/invitations", franchisee, expect=(201,), json={"email": pro_email})
accept_invitation(pro_email, "Fuzz Pro")
pro = sign_in(TERRITORY_HOST, pro_email)
profile = call("PUT", TERRITORY_HOST, "/api/v1/pro/profile", pro,
               json={"display_name": "Fuzz Pro", "languages": ["nl"], "postcodes": ["1011"]})
call("POST", TERRITORY_HOST, f"/api/v1/pros/{profile['id']}/status", franchisee, json={"status": "active"})
service = call("GET", TERRITORY_HOST, "/api/v1/catalog")["services"][0]["code"]
call("PUT", TERRITORY_HOST, f"/api/v1/pro/offerings/{service}", pro, json={})
call("PUT", TERRITORY_HOST, "/api/v1/pro/availability", pro, expect=(204,),
     json={"weekly": [{"weekday": day, "starts": "08:00:00", "ends": "20:00:00"} for day in range(1, 8)]})

customer_email = f"customer-{TERRITORY}@fuzz.localhost"
call("POST", TERRITORY_HOST, "/api/v1/auth/sign-up", expect=(202,),
     json={"email": customer_email, "password": PASSWORD, "display_name": "Fuzz Customer"})
# Booking needs a verified address.
call("POST", TERRITORY_HOST, "/api/v1/auth/verify-email", expect=(204,),
     json={"token": mailed_token(customer_email)})
customer = sign_in(TERRITORY_HOST, customer_email)
# A booking, so that booking operations have something to find.
today = datetime.date.today()
slots = call("GET", TERRITORY_HOST,
             f"/api/v1/slots?service={service}&from={today + datetime.timedelta(days=3)}"
             f"&to={today + datetime.timedelta(days=6)}")["slots"]
if slots:
    call("POST", TERRITORY_HOST, "/api/v1/bookings", customer, expect=(201,),
         headers={"Idempotency-Key": uuid.uuid4().hex},
         json={"service": service, "start": slots[0]["start"], "postcode": "1011 AB", "address": "Damrak 1"})
else:
    sys.exit("no free slot for the fuzzing booking")

print(f"HQ_TOKEN={hq}")
print(f"FRANCHISEE_TOKEN={franchisee}")
print(f"PRO_TOKEN={pro}")
print(f"CUSTOMER_TOKEN={customer}")

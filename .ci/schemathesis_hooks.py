"""What Schemathesis must know to make valid requests: the rules of our
inputs that a JSON Schema cannot state. The OpenAPI document states every
enum, bound, length and pattern; this file adds, for `positive_data_acceptance`
(a schema-valid request must not be refused), generators for the formats
whose check characters or tables a pattern cannot express, and the few
rules that tie one field to another or to today's date. Each rule names the
server code that enforces it. Loaded by .ci/schemathesis (SCHEMATHESIS_HOOKS).
"""

import csv
import datetime
import functools
import json
import os
import pathlib
import re
import urllib.request

import schemathesis
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parent.parent

# --- formats -----------------------------------------------------------------

# crates/domain/src/credit_code.rs: GB 32100 weights and alphabet.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def credit_check(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def complete_credit_code(code: str) -> str:
    return code[:17] + credit_check(code[:17])


# crates/domain/src/patent.rs: Σ digit × weight 2–9 mod 11, 10 is X.
def application_check(digits: str) -> str:
    weights = [2, 3, 4, 5, 6, 7, 8, 9]
    total = sum(int(d) * weights[i % 8] for i, d in enumerate(digits))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


# crates/domain/src/openapi.rs APPLICATION_NUMBER_PATTERN.
APPLICATION_NUMBER = re.compile(r"([0-9]{4}[12389][0-9]{7}|[0-9]{2}[12389][0-9]{5})\.?[0-9X]")


def complete_application_number(number: str) -> str:
    digits = number.replace(".", "")[:-1]
    return f"{digits}.{application_check(digits)}"


credit_codes = st.tuples(
    st.text(CREDIT_ALPHABET, min_size=2, max_size=2),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(CREDIT_ALPHABET, min_size=9, max_size=9),
).map(lambda parts: "".join(parts) + credit_check("".join(parts)))

application_numbers = st.one_of(
    st.tuples(st.integers(2003, 2025), st.sampled_from("1238"), st.integers(0, 9_999_999)).map(
        lambda p: f"{p[0]}{p[1]}{p[2]:07d}"
    ),
    st.tuples(st.integers(85, 102), st.sampled_from("123"), st.integers(0, 99_999)).map(
        lambda p: f"{p[0] % 100:02d}{p[1]}{p[2]:05d}"
    ),
).map(lambda digits: f"{digits}.{application_check(digits)}")


def real_ipc_codes() -> list[str]:
    """Subclasses of the demo records: codes the compiled-in scheme has."""
    path = ROOT / "crates/listings/data/patents/cn_patents_title_ipc.csv"
    codes = set()
    with path.open(encoding="utf-8") as records:
        for row in csv.DictReader(records):
            codes.update(c for c in row["ipc_subclasses"].split("|") if c)
    return sorted(codes)


IPC_CODES = real_ipc_codes()

schemathesis.openapi.format("credit-code", credit_codes)
schemathesis.openapi.format("cn-application-number", application_numbers)
schemathesis.openapi.format("ipc-code", st.sampled_from(IPC_CODES))

# crates/accounts/src/password.rs: the common passwords refused whatever their case.
COMMON_PASSWORDS = {
    word.lower()
    for word in re.findall(
        r'"([^"]+)"',
        (ROOT / "crates/accounts/src/password.rs").read_text(encoding="utf-8").split("const COMMON")[1].split("];")[0],
    )
}

# --- rules across fields and against today -------------------------------------

DEMO_LISTING = "demo-CN114081026A"


@functools.cache
def demo_listing_modes() -> list[str]:
    """The trade modes the demo listing offers, asked of the server under test."""
    base = os.environ.get("SCHEMATHESIS_BASE_URL")
    if not base:
        return []
    with urllib.request.urlopen(f"{base}/api/v1/listings/{DEMO_LISTING}", timeout=10) as response:
        return json.load(response)["trade_modes"]


TYPE_BY_DIGIT = {"1": "invention", "8": "invention", "2": "utility_model", "9": "utility_model", "3": "design"}


def today() -> datetime.date:
    # The market's calendar is Beijing time (techtrade_db::today).
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date()


def parse_date(value):
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def not_after_today(body: dict, field: str) -> None:
    day = parse_date(body.get(field))
    if day and day > today():
        body[field] = today().isoformat()


def fix_patent(patent: dict) -> None:
    """crates/listings/src/requests.rs `patent`: the number's type digit is
    the patent type's, the filing date is in the number's year and not after
    today, a grant follows the filing, a granted invention has a grant date,
    a publication number is of the same type."""
    number = patent.get("application_number")
    # Only a number of the documented shape (openapi.rs
    # APPLICATION_NUMBER_PATTERN) is completed; anything else is negative
    # data and is sent as generated.
    if not isinstance(number, str) or not APPLICATION_NUMBER.fullmatch(number):
        return
    number = complete_application_number(number)
    patent["application_number"] = number
    digits = number.split(".")[0]
    type_digit = digits[4] if len(digits) == 12 else digits[2]
    patent["patent_type"] = TYPE_BY_DIGIT.get(type_digit, patent.get("patent_type"))
    year = int(digits[:4]) if len(digits) == 12 else (1900 if int(digits[:2]) >= 85 else 2000) + int(digits[:2])
    filed = parse_date(patent.get("filing_date")) or datetime.date(year, 1, 1)
    filed = min(filed.replace(year=year, day=min(filed.day, 28)), today())
    patent["filing_date"] = filed.isoformat()
    granted = parse_date(patent.get("grant_date"))
    if granted is not None and not (filed <= granted <= today()):
        patent["grant_date"] = filed.isoformat()
    if patent.get("patent_type") == "invention" and patent.get("legal_status") == "granted" and not patent.get("grant_date"):
        patent["grant_date"] = filed.isoformat()
    if patent.get("publication_number"):
        patent["publication_number"] = None


def fix_listing(body: dict) -> None:
    """requests.rs `ListingRequest::validate`: a price or 面议; a patent
    listing names a patent; a patent is listed once."""
    if body.get("price_fen") is None:
        body["negotiable"] = True
    patents = body.get("patents") or []
    if body.get("kind") == "patent" and not patents:
        body["kind"] = "achievement"
    seen = set()
    unique = []
    for patent in patents:
        if isinstance(patent, dict):
            fix_patent(patent)
            number = patent.get("application_number")
            if not isinstance(number, str) or number not in seen:
                seen.add(number if isinstance(number, str) else id(patent))
                unique.append(patent)
    if "patents" in body:
        body["patents"] = unique


def fix_demand(body: dict) -> None:
    """requests.rs `DemandRequest::validate`: the budget's maximum is not
    below its minimum; a budget or 面议; the deadline is not past."""
    low, high = body.get("budget_min_fen"), body.get("budget_max_fen")
    # Integral floats (4022.0) are integers to the server (extract.rs).
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    if number(low) and number(high) and low > high:
        body["budget_min_fen"], body["budget_max_fen"] = high, low
    if low is None and high is None:
        body["negotiable"] = True
    deadline = parse_date(body.get("deadline"))
    if deadline and deadline < today():
        body["deadline"] = today().isoformat()


def fix_reasoned_decision(body: dict) -> None:
    """A rejection needs a reason (listings/demands review, registration,
    claim review), and so does approving a claim at a lower amount
    (domain/src/claim.rs: an amount given is taken as a lower one)."""
    lowered = body.get("decision") == "approve" and body.get("amount_fen") is not None
    if (body.get("decision") == "reject" or lowered) and not str(body.get("reason") or "").strip():
        body["reason"] = "材料不全"


# crates/domain/src/registration.rs `ContractSubcategory::category`.
SUBCATEGORY_OF = {
    "commissioned_development": "development",
    "cooperative_development": "development",
    "training": "service",
    "brokerage": "service",
}


def fix_registration_application(body: dict) -> None:
    """crates/registry/src/requests.rs `ContractToRegister::validate`: signed
    on or before today and valid until then or later, the non-technical part
    within the total, a subcategory of the category, and a buyer named by
    name, credit code and region (an organisation id must exist; none of the
    generated ones does)."""
    # An application is for a contract signed elsewhere (`contract`) or for
    # a platform deal (`deal_id` with `terms`); no generated deal id names a
    # deal of the caller, so the generated body applies with a contract.
    body["deal_id"], body["terms"] = None, None
    contract = body.get("contract")
    if not isinstance(contract, dict):
        body["contract"] = contract = {
            "category": "development",
            "buyer": {},
            "total_amount_fen": 100_000,
            "non_technical_amount_fen": 0,
            "signed_on": today().isoformat(),
            "valid_until": today().isoformat(),
            "related_party": False,
        }
    not_after_today(contract, "signed_on")
    signed, valid = parse_date(contract.get("signed_on")), parse_date(contract.get("valid_until"))
    if signed and valid and valid < signed:
        contract["valid_until"] = signed.isoformat()
    total, part = contract.get("total_amount_fen"), contract.get("non_technical_amount_fen")
    if isinstance(total, (int, float)) and isinstance(part, (int, float)) and part > total:
        contract["non_technical_amount_fen"] = total
    sub = contract.get("subcategory")
    if sub is not None and SUBCATEGORY_OF.get(sub) != contract.get("category"):
        contract["subcategory"] = None
    buyer = contract.get("buyer")
    if isinstance(buyer, dict):
        buyer["organization_id"] = None
        if not str(buyer.get("name") or "").strip():
            buyer["name"] = "青海某新能源有限公司"
        if not buyer.get("credit_code"):
            buyer["credit_code"] = complete_credit_code("91630104MA752C4W50")
        if not buyer.get("region_code"):
            buyer["region_code"] = "630104"
        if not buyer.get("kind"):
            # requests.rs `buyer_checked`: a credit code not issued by 工商
            # (not starting with 9) does not say the buyer's kind.
            buyer["kind"] = "enterprise"


def fix_registration_decision(body: dict) -> None:
    """requests.rs `DecisionRequest::validate`: a refusal names a reason, a
    request for more material says what."""
    if body.get("decision") == "refuse" and not body.get("reasons"):
        body["reasons"] = ["proofs_missing"]
    if body.get("decision") == "request_more" and not str(body.get("message") or "").strip():
        body["message"] = "请补充合同附件。"


def fix_payment_decision(body: dict) -> None:
    """crates/registry/src/payments.rs `decide`: a rejected payment says why."""
    if body.get("confirmed") is False and not str(body.get("note") or "").strip():
        body["note"] = "回单金额与合同不符"


# A document the upload takes (documents.rs: PDF, JPEG or PNG by its bytes).
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def valid_upload(body: dict) -> dict:
    """The upload form (documents.rs `read_upload`): its two parts, the file a
    real PDF (random bytes are refused by type), nothing else."""
    kind = body.get("kind")
    return {"file": PDF, "kind": kind if kind in ("contract", "annex", "invoice", "proof") else "contract"}


def walk(value, visit) -> None:
    if isinstance(value, dict):
        visit(value)
        for item in value.values():
            walk(item, visit)
    elif isinstance(value, list):
        for item in value:
            walk(item, visit)


def fix_identifiers(body: dict) -> None:
    code = body.get("credit_code")
    if isinstance(code, str) and len(code) == 18 and all(c in CREDIT_ALPHABET for c in code):
        body["credit_code"] = complete_credit_code(code)
    password = body.get("password")
    if isinstance(password, str):
        body["password"] = acceptable_password(password)
    # POST /api/v1/me/password: the new one (its `current` is whatever it is).
    if isinstance(body.get("new"), str) and "current" in body:
        body["new"] = acceptable_password(body["new"])


def password_classes(password: str) -> int:
    """password.rs `classes`: lower-case, capitals, digits, anything else."""
    kinds = {
        0 if c.isascii() and c.islower() else
        1 if c.isascii() and c.isupper() else
        2 if c.isascii() and c.isdigit() else 3
        for c in password
    }
    return len(kinds)


def acceptable_password(password: str) -> str:
    """password.rs `check_new`: not a common password, and three of the four
    kinds of character; a generated one of the right length is topped up
    (within the 256 characters)."""
    if password.lower() in COMMON_PASSWORDS:
        password = password + "·"
    if 8 <= len(password) and password_classes(password) < 3:
        password = password[:252] + "aA1·"
    return password


@schemathesis.hook
def map_body(ctx, body):
    if not isinstance(body, dict) or ctx.operation is None:
        return body
    try:
        return valid_body(ctx.operation.method.upper(), ctx.operation.path, body)
    except (AttributeError, TypeError, ValueError):
        # A body of the wrong shape (negative data) is sent as generated.
        return body


def valid_body(method: str, path: str, body: dict) -> dict:
    walk(body, fix_identifiers)
    if path in ("/api/v1/listings", "/api/v1/listings/{id}"):
        fix_listing(body)
    elif path in ("/api/v1/demands", "/api/v1/demands/{id}"):
        fix_demand(body)
        if method == "PATCH" and ("budget_min_fen" in body or "budget_max_fen" in body):
            # A PATCH is merged into the stored demand, whose other budget
            # bound the body cannot see: send the budget whole, as 面议.
            body["budget_min_fen"], body["budget_max_fen"], body["negotiable"] = None, None, True
    fix_reasoned_decision(body)
    # Days that have happened: payments, refunds, contracts, terminations, disbursements.
    for field in ("paid_on", "refunded_on", "signed_on", "terminated_on"):
        not_after_today(body, field)
    if method == "POST" and path == "/api/v1/deals":
        # A deal is opened on a published listing of another organisation
        # (the demo market's: serve --demo), in a trade mode it offers, and
        # answers none of the buyer's demands.
        body["listing_id"] = DEMO_LISTING
        body["demand_id"] = None
        body["agency_organization_id"] = None
        modes = demo_listing_modes()
        if isinstance(body.get("offer"), dict) and modes and body["offer"].get("trade_mode") not in modes:
            body["offer"]["trade_mode"] = modes[0]
    if method == "POST" and path == "/api/v1/subsidy/rounds" and body.get("pending") != "exclude":
        # close.rs: a reason is for the claims a close leaves out.
        body.pop("reason", None)
    if method == "POST" and path == "/api/v1/subsidy/simulate":
        # simulate.rs checks `policy` as a policy file's terms (POLICY.md),
        # which the document gives as an open object.
        body["policy"] = None
    if method == "POST" and path == "/api/v1/admin/users":
        # accounts: a member belongs to an existing organisation (a demo
        # one, crates/listings/src/seed.rs); an official may name none.
        university = complete_credit_code("12630000MB0000001" + "0").lower()
        body["organization_id"] = f"demo-org-{university}" if body.get("role") == "member" else None
    if method == "POST" and path == "/api/v1/registrations":
        fix_registration_application(body)
    if path == "/api/v1/registrations/{id}/decision":
        fix_registration_decision(body)
    if path == "/api/v1/registrations/{id}/payments/{payment_id}/decision":
        fix_payment_decision(body)
    if method == "POST" and path == "/api/v1/registrations/{id}/documents":
        return valid_upload(body)
    if path == "/api/v1/saved-searches":
        body["query"] = {"q": "锂电池", "type": "listing"}
    return body


@schemathesis.hook
def map_query(ctx, query):
    if not isinstance(query, dict) or ctx.operation is None:
        return query
    if ctx.operation.path in ("/api/v1/statistics", "/api/v1/statistics/registrations",
                              "/api/v1/statistics/registrations.csv"):
        return valid_statistics_period(query)
    if ctx.operation.path in ("/api/v1/audit", "/api/v1/audit/export.csv"):
        return valid_audit_period(query)
    return query


def valid_audit_period(query: dict) -> dict:
    """crates/accounts/src/audit_trail.rs `AuditQuery::filter`: `to` is not
    before `from`."""
    start, end = parse_date(query.get("from")), parse_date(query.get("to"))
    if start and end and end < start:
        query["from"], query["to"] = end.isoformat(), start.isoformat()
    return query


def valid_statistics_period(query: dict) -> dict:
    """crates/statistics/src/period.rs `StatisticsQuery::scope`: `to`
    (default today) is not before `from` (default 1 January of `to`'s
    year), and a report covers at most 120 months."""
    for key in ("to", "from"):
        # Given empty, a parameter counts as not given (crates/web/src/extract.rs).
        if query.get(key) == "":
            del query[key]
    given_to, given_from = parse_date(query.get("to")), parse_date(query.get("from"))
    if (query.get("to") is not None and given_to is None) or (query.get("from") is not None and given_from is None):
        # Not a date (negative data): sent as generated.
        return query
    end = given_to or today()
    start = given_from or datetime.date(end.year, 1, 1)
    if end < start:
        start, end = end, start
    earliest = datetime.date(max(end.year - 9, 1), 1, 1)
    if start < earliest:
        start = earliest
    query["from"], query["to"] = start.isoformat(), end.isoformat()
    return query

"""The counter: server-rendered pages for the people at the counter (coop.api.counter.clerk),
on the same services, users and roles as the API. See coop.api.counter.web for sessions and
CSRF."""

from __future__ import annotations

from pathlib import Path

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from coop.api.counter.accounts import AccountsPages
from coop.api.counter.audit_trail import AuditTrailPages
from coop.api.counter.board import BoardController
from coop.api.counter.board_pack import BoardPackPages
from coop.api.counter.clerk import CounterController
from coop.api.counter.corrections import CorrectionPages
from coop.api.counter.dividends import DividendPages
from coop.api.counter.forms import MoratoriumController, RequestsController
from coop.api.counter.loans import LoanApplicationController
from coop.api.counter.papers import PapersPages
from coop.api.counter.provisioning import ProvisioningPages
from coop.api.counter.search import SearchController
from coop.api.counter.tills import TillsPages
from coop.api.counter.users import (
    PasswordFirst,
    UsersController,
    password_first,
    to_password_page,
)

TEMPLATES = Path(__file__).parent / "templates"


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)


__all__ = ["AccountsPages", "AuditTrailPages", "BoardController", "BoardPackPages",
           "CorrectionPages",
           "CounterController",
           "DividendPages", "LoanApplicationController", "MoratoriumController", "PapersPages",
           "PasswordFirst", "ProvisioningPages",
           "RequestsController", "SearchController", "TillsPages", "UsersController",
           "password_first", "template_config", "to_password_page"]

"""Every command-line option of `vigil`, with its environment variable, in one table.

watchtower's flags keep their names, short forms and `WATCHTOWER_*` variables; Vigil's own use
`VIGIL_*`. A flag on the command line wins over its environment variable. Where Vigil does
something other than watchtower with an option, `vigil` says what at start-up, so nothing a
watchtower user set is ignored silently.

One module per section of the table (bus, rollouts, schedule, selection, updating, policies,
registries, http_api, dashboard, logs, notifications, legacy_notifications), in the order of
`vigil --help`; table.OPTIONS joins them. model holds Option and the commands, parsing turns
flags and env vars into values, checks the rules between options. Callers import from here.
"""

from __future__ import annotations

from vigil.options.checks import (
    NUMBER_RULES as NUMBER_RULES,
)
from vigil.options.checks import (
    NumberRule as NumberRule,
)
from vigil.options.checks import (
    _address_problem as _address_problem,
)
from vigil.options.checks import (
    _named as _named,
)
from vigil.options.checks import (
    check_given_together as check_given_together,
)
from vigil.options.checks import (
    check_numbers as check_numbers,
)
from vigil.options.checks import (
    check_policies as check_policies,
)
from vigil.options.checks import (
    check_when as check_when,
)
from vigil.options.checks import (
    number_problem as number_problem,
)
from vigil.options.checks import (
    policy_defaults as policy_defaults,
)
from vigil.options.model import (
    _TOOL_OPTIONS as _TOOL_OPTIONS,
)
from vigil.options.model import (
    ALL_IN_ONE as ALL_IN_ONE,
)
from vigil.options.model import (
    APPROVE as APPROVE,
)
from vigil.options.model import (
    CHECK as CHECK,
)
from vigil.options.model import (
    COORDINATOR as COORDINATOR,
)
from vigil.options.model import (
    DASHBOARD as DASHBOARD,
)
from vigil.options.model import (
    DOCKER as DOCKER,
)
from vigil.options.model import (
    EVENTS as EVENTS,
)
from vigil.options.model import (
    EVERYWHERE as EVERYWHERE,
)
from vigil.options.model import (
    EXECUTING as EXECUTING,
)
from vigil.options.model import (
    EXECUTOR as EXECUTOR,
)
from vigil.options.model import (
    GATEWAY as GATEWAY,
)
from vigil.options.model import (
    GATEWAYS as GATEWAYS,
)
from vigil.options.model import (
    HISTORY as HISTORY,
)
from vigil.options.model import (
    NATS_OPTIONS as NATS_OPTIONS,
)
from vigil.options.model import (
    NOTIFIER as NOTIFIER,
)
from vigil.options.model import (
    NOTIFYING as NOTIFYING,
)
from vigil.options.model import (
    ROLLOUT as ROLLOUT,
)
from vigil.options.model import (
    SCANNER as SCANNER,
)
from vigil.options.model import (
    SCANNING as SCANNING,
)
from vigil.options.model import (
    SERVICES as SERVICES,
)
from vigil.options.model import (
    SKIP as SKIP,
)
from vigil.options.model import (
    STATUS as STATUS,
)
from vigil.options.model import (
    TOOLS as TOOLS,
)
from vigil.options.model import (
    TRIGGER as TRIGGER,
)
from vigil.options.model import (
    Kind as Kind,
)
from vigil.options.model import (
    Option as Option,
)
from vigil.options.model import (
    UsageError as UsageError,
)
from vigil.options.model import (
    _o as _o,
)
from vigil.options.parsing import (
    _convert as _convert,
)
from vigil.options.parsing import (
    _names_a_file as _names_a_file,
)
from vigil.options.parsing import (
    _parse_bool as _parse_bool,
)
from vigil.options.parsing import (
    _read_secret_file as _read_secret_file,
)
from vigil.options.parsing import (
    _refuse_missing_secret_file as _refuse_missing_secret_file,
)
from vigil.options.parsing import (
    _split_list as _split_list,
)
from vigil.options.parsing import (
    add_group as add_group,
)
from vigil.options.parsing import (
    add_options as add_options,
)
from vigil.options.parsing import (
    heading as heading,
)
from vigil.options.parsing import (
    options_for as options_for,
)
from vigil.options.parsing import (
    parse_duration as parse_duration,
)
from vigil.options.parsing import (
    resolve as resolve,
)
from vigil.options.parsing import (
    secret_from_file as secret_from_file,
)
from vigil.options.table import (
    OPTIONS as OPTIONS,
)
from vigil.options.table import (
    SECTIONS as SECTIONS,
)
from vigil.options.table import (
    TOPICS as TOPICS,
)
from vigil.options.table import (
    Section as Section,
)
from vigil.options.table import (
    section_of as section_of,
)

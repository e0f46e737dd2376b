from tests.integration.api.conftest import client_for, store, users  # noqa: F401 (fixtures)
from tests.support.influx_fixtures import influx_database, influxdb  # noqa: F401 (fixtures)

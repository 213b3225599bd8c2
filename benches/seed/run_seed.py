"""Runs the seed article's ESL script (seed_cdr.py, beside this file) against
a test FreeSWITCH, without changing its logic. cc_cdr_bench starts it.

Only the script's two hard-coded places are redirected, from outside:

  SEED_DB        the database file instead of /usr/local/freeswitch/db/my_cdr.db
                 (sqlite3.connect is wrapped for that one path)
  SEED_ESL_PORT  the event-socket port instead of 8021 (ESL.ESLconnection is
                 wrapped; host and password stay the script's own)

Once the script has subscribed to its events, one line 'SEED-READY' is
printed on stdout, so that the bench knows when to start. Everything else the
script prints (its 'error: Exception Occured' lines too) passes through.

For the report only, the exception behind each of those lines is named on
stdout first ('SEED-CAUSE: ...'): the script's own handlers refer to an undefined
'Error', so every failure reaches its outer handler as a NameError, which
hides the first exception (e.g. a missing key). process_callcenter_event is
wrapped to print that first exception and raise the same exception again, so
the script goes on exactly as it would have.
"""

import importlib.util
import os
import sqlite3
import sys

import ESL

ORIGINAL_DB = "/usr/local/freeswitch/db/my_cdr.db"
DB = os.environ["SEED_DB"]
PORT = os.environ["SEED_ESL_PORT"]

_connect = sqlite3.connect


def connect(database, *args, **kwargs):
    if database == ORIGINAL_DB:
        database = DB
    return _connect(database, *args, **kwargs)


sqlite3.connect = connect

_ESLconnection = ESL.ESLconnection


class ESLconnection(_ESLconnection):
    def __init__(self, host, port, password):
        super().__init__(host, PORT, password)

    def events(self, *args):
        reply = super().events(*args)
        print("SEED-READY", flush=True)
        return reply


ESL.ESLconnection = ESLconnection

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("seed_cdr", os.path.join(here, "seed_cdr.py"))
seed_cdr = importlib.util.module_from_spec(spec)
sys.modules["seed_cdr"] = seed_cdr
spec.loader.exec_module(seed_cdr)

_process_callcenter_event = seed_cdr.process_callcenter_event


def process_callcenter_event(conn, j):
    try:
        return _process_callcenter_event(conn, j)
    except Exception as e:
        first = e.__context__ if e.__context__ is not None else e
        print("SEED-CAUSE: %r" % (first,), flush=True)
        raise


seed_cdr.process_callcenter_event = process_callcenter_event

seed_cdr.event_ESL_job()

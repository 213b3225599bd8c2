# The seed article's ESL script, verbatim: section "Sample python script for
# ESL, CDR" of the call-center CDR article in shared/seed/000_91c44651b952ba61.txt.
# This comment is the only change. benches/seed/run_seed.py runs it for
# cc_cdr_bench (calls --with seed, and seed).
import ESL
import json
import sqlite3

filter = 'CUSTOM callcenter::info'

# For convenience, I don't create indexes
def create_table(conn):
    table_sql = "CREATE TABLE IF NOT EXISTS callcenter_cdr \
(caller_id_number text NOT NULL, \
destination_number text NOT NULL, \
queue_name text NOT NULL, \
agent_name text NOT NULL, \
answered_number text NOT NULL, \
system_entered_stamp text NOT NULL, \
queue_entered_stamp text NOT NULL, \
ring_stamp text NOT NULL, \
answer_stamp text NOT NULL, \
end_stamp text NOT NULL, \
duration int NOT NULL, \
billsec int NOT NULL, \
hangup_cause text NOT NULL, \
uuid text NOT NULL, \
bleg_uuid text NOT NULL \
); "

    try:
        c = conn.cursor()
        c.execute(table_sql)
    except Error as e:
        print(e)
    
def process_abandoned_call(conn, j):
    try:
        duration = 0
        billsec = 0
        if "variable_billsec" in j :
            billsec = int(j["variable_billsec"])
            
        sql = "insert into callcenter_cdr values(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?);"
        c = conn.cursor()
        c.execute(sql, (j["Caller-ANI"], j["Caller-Destination-Number"], j["CC-Queue"], "",\
        "", j["Caller-Channel-Created-Time"], "", \
        "", "", "", \
        duration, billsec, j["Hangup-Cause"],j["Channel-Call-UUID"], ""))
        conn.commit()
    except Error as e:
        print(e)
    
def process_answered_call(conn, j):
    try:
        duration = int(j["CC-Member-Leaving-Time"]) - int(j["CC-Agent-Answered-Time"])
        billsec = int(j["variable_billsec"])
        sql = "insert into callcenter_cdr values(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?);"
        c = conn.cursor()
        c.execute(sql, (j["Caller-ANI"], j["Caller-Destination-Number"], j["CC-Queue"], j["CC-Agent"],\
        j["Caller-Callee-ID-Number"], j["Caller-Channel-Created-Time"], j["CC-Member-Joined-Time"], \
        j["CC-Agent-Called-Time"], j["CC-Agent-Answered-Time"], j["CC-Member-Leaving-Time"], \
        duration, billsec, j["Hangup-Cause"],j["Channel-Call-UUID"], j["CC-Member-UUID"]))
        conn.commit()
    except Error as e:
        print(e)

def process_callcenter_event(conn, j):
    if "CC-Action" not in j :
        return
    if j["CC-Action"] != "member-queue-end":
        return
    if "CC-Cause" not in j :
        return
    if j["CC-Cause"] == "Cancel":   # abandoned call
        process_abandoned_call(conn, j)
    else:    
        process_answered_call(conn, j)

def event_ESL_job():
    conn = sqlite3.connect("/usr/local/freeswitch/db/my_cdr.db")
    create_table(conn)

    con = ESL.ESLconnection('127.0.0.1', '8021', 'ClueCon')
    print('Connecting to ESL ....')
    if con.connected():
        print('Connecting to ESL SUCCESS')
        con.events('json', filter)
        while 1:
            try:
                e = con.recvEvent()
                if e:
                    j = json.loads(e.serialize('json'))
                    if j:
                        #print(json.dumps(j, indent=2))
                        process_callcenter_event(conn, j)

            except Exception as e:  
                #print(j)            
                print("error:", "Exception Occured")
                print(type(e))

if __name__ == "__main__":
    event_ESL_job()


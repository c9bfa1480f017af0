#!/bin/bash
# Two Moodle courses on one site-level tool registration (issue 21): `autograder serve` bound to NN101 only.
# After ../../../shared/labs/moodle/start.sh (CHECKOUT = this checkout), from anywhere:
#   bash tests/moodle_lab/check_contexts.sh
# adds NN102 (teacher mallory, ada_lovelace as a student, an activity of the same name on the same tool), points the
# tool at a service on 127.0.0.1:8901 serving the lab's course copy (c.LTI.contexts = [NN101's id]), launches as
# NN102's teacher and student (refused), as NN101's student and the administrator (served), then publishes 01 and
# reads Moodle's database. Evidence in /tmp/moodle-lab/out/contexts.log. Stops the service it started.
set -uo pipefail
LAB=/tmp/moodle-lab; OUT=$LAB/out; HERE=$(cd "$(dirname "$0")" && pwd); CHECKOUT=$(cd "$HERE/../.." && pwd)
export PHP_INI_SCAN_DIR=/etc/php/8.2/cli/conf.d:$LAB/php PYTHONPATH=$CHECKOUT
Q="psql -h 127.0.0.1 -p 55432 -U moodle -d moodle -Atc"
AG="python3 -P -m autograder"   # -P: this checkout's package (PYTHONPATH), not the course copy's
PORT=8901; TOOL=http://127.0.0.1:$PORT
mkdir -p $OUT && cp "$HERE"/scripts/* $LAB/scripts/
exec > >(tee $OUT/contexts.log) 2>&1
cd $LAB/course
json() { python3 -c "import json,sys; print(json.load(open('$1'))$2)"; }
TYPEID=$(json $LAB/lti.json "['typeid']"); CM1=$(json $LAB/lti.json "['cmid']"); C1=$(json $LAB/setup.json "['courseid']")
php $LAB/scripts/second_course.php $TYPEID | tail -1 > $LAB/second.json   # its JSON is the last line (Moodle may warn first)
CM2=$(json $LAB/second.json "['cmid']"); C2=$(json $LAB/second.json "['courseid']")
echo "NN101: course $C1, activity cm $CM1; NN102: course $C2, activity cm $CM2; tool type $TYPEID"
php $LAB/scripts/point_tool.php $TYPEID $TOOL
[ -f demo/gradebook.db ] || $AG demo > $OUT/demo.log 2>&1
cp demo/gradebook.db gradebook.db
cp $CHECKOUT/course_config.py course_config.py
rm -rf hidden && cp -r $CHECKOUT/hidden hidden   # the course's hidden checks, as this checkout has them
python3 $LAB/scripts/configure_lti.py course_config.py $LAB/lti.json $LAB/keys/lti-private-key.pem > /dev/null
sed -i '/^c.LTI.\(auth_url\|platform_jwks_url\|contexts\|roster_match\) = /d' course_config.py
cat >> course_config.py <<CONF
c.LTI.auth_url = "$(json $LAB/lti.json "['auth_url']")"
c.LTI.platform_jwks_url = "$(json $LAB/lti.json "['keyset_url']")"
c.LTI.contexts = ["$C1"]
c.LTI.roster_match = "login"
CONF
$AG lti roster --context > $OUT/contexts_roster.log 2>&1; echo "roster --context: exit $?: $(sed -n 2p $OUT/contexts_roster.log)"
nohup setsid $AG serve --port $PORT > $OUT/serve.log 2>&1 &
echo $! > $OUT/serve.pid
for i in $(seq 60); do curl -s -o /dev/null $TOOL/lti/jwks.json && break; sleep 1; done
links() { python3 -c "
import sqlite3; c = sqlite3.connect('gradebook.db')
print(sorted(c.execute('select * from autograder_lti_resource_links').fetchall()),
      sorted(c.execute('select id, context_id, lineitems, memberships, approved_at from autograder_lti_contexts where lineitems is not null or memberships is not null or approved_at is not null').fetchall()))"; }
python3 $LAB/scripts/launch.py ada_lovelace 'Student#1234' $CM1 | sed 's/^/  NN101 student: /'
python3 $LAB/scripts/launch.py admin 'Admin#1234' $CM1 | sed 's/^/  NN101 administrator: /'
before=$(links)
echo "  link records after NN101's launches: $before"
python3 $LAB/scripts/launch.py mallory 'Mallory#1234' $CM2 | sed 's/^/  NN102 teacher: /'
python3 $LAB/scripts/launch.py ada_lovelace 'Student#1234' $CM2 | sed 's/^/  NN102 student: /'
after=$(links)
echo "  link records after NN102's launches: $([ "$before" = "$after" ] && echo unchanged || echo "CHANGED: $after")"
$AG lti contexts | sed 's/^/  /'
ITEM2=$($Q "select id from mdl_grade_items where itemtype='mod' and itemmodule='lti' and courseid=$C2")
grades2() { $Q "select count(*) || ' grades, md5 ' || md5(coalesce(string_agg(id || ':' || coalesce(rawgrade::text, ''),
  ',' order by id), '')) from mdl_grade_grades where itemid in (select id from mdl_grade_items where courseid=$C2)"; }
before2=$(grades2)
$AG lti publish 01-gradient-descent > $OUT/contexts_publish.log 2>&1; echo "  publish 01: exit $?: $(head -1 $OUT/contexts_publish.log)"
ITEM1=$(grep -o 'lineitems/[0-9]*' $OUT/contexts_publish.log | head -1 | cut -d/ -f2)
echo "  NN101 item $ITEM1 (course $($Q "select courseid from mdl_grade_items where id=${ITEM1:-0}")): $($Q "select count(finalgrade) || ' scores, sum ' || coalesce(sum(finalgrade), 0) from mdl_grade_grades where itemid=${ITEM1:-0}")"
echo "  $(python3 $LAB/scripts/check_lti.py 01-gradient-descent ${ITEM1:-0} gradebook.db 2>&1 | tail -1)"
echo "  gradebook 01 sum: $(python3 -c "
from nbgrader.api import Gradebook
with Gradebook('sqlite:///gradebook.db') as g: print(round(sum(s.score for s in g.assignment_submissions('01-gradient-descent')), 4))")"
echo "  NN102's grades: before $before2, after $(grades2) (its activity item $ITEM2)"
# URLs of NN102 named by hand: refused before anything is sent or fetched
BASE=$(json $LAB/lti.json "['issuer']")
FOREIGN_ITEM="$BASE/mod/lti/services.php/$C2/lineitems/$ITEM2/lineitem?type_id=$TYPEID"
FOREIGN_MEMBERS="$BASE/mod/lti/services.php/CourseSection/$C2/bindings/$TYPEID/memberships"
cp course_config.py course_config.served.py
echo "c.LTI.lineitems = {'02-slopes-and-updates': '$FOREIGN_ITEM'}" >> course_config.py   # 02: no launch of its link
$AG lti publish 02-slopes-and-updates > $OUT/contexts_foreign.log 2>&1; echo "  publish 02 to NN102's line item (c.LTI.lineitems): exit $?: $(head -1 $OUT/contexts_foreign.log | cut -c1-200)"
cp course_config.served.py course_config.py
$AG lti roster --context --url "$FOREIGN_MEMBERS" > $OUT/contexts_foreign_roster.log 2>&1; echo "  roster --url NN102's memberships: exit $?: $(head -1 $OUT/contexts_foreign_roster.log | cut -c1-160)"
# approved from the terminal, NN102 is served; withdrawn, it is refused again and its link is not used
ID2=$(python3 -c "import sqlite3; print(sqlite3.connect('gradebook.db').execute(\"select id from autograder_lti_contexts where context_id='$C2'\").fetchone()[0])")
$AG lti contexts approve $ID2 2>&1 | sed -n 1p | sed 's/^/  /'
python3 $LAB/scripts/launch.py ada_lovelace 'Student#1234' $CM2 | cut -c1-140 | sed 's/^/  NN102 student, approved: /'
$AG lti publish 01-gradient-descent > $OUT/contexts_two.log 2>&1; echo "  publish 01 with links in both: exit $?: $(head -1 $OUT/contexts_two.log | cut -c1-200)"
$AG lti contexts withdraw $ID2 2>&1 | sed -n 1p | sed 's/^/  /'
python3 $LAB/scripts/launch.py mallory 'Mallory#1234' $CM2 | cut -c1-90 | sed 's/^/  NN102 teacher, withdrawn: /'
$AG lti publish 01-gradient-descent > $OUT/contexts_again.log 2>&1; echo "  publish 01 again: exit $?: $(head -1 $OUT/contexts_again.log)"
echo "  NN102's grades at the end: $(grades2)"
kill -- -$(cat $OUT/serve.pid) 2>/dev/null; rm -f $OUT/serve.pid

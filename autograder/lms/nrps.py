"""`autograder lti roster`: the course's members from the LMS (LTI Names and Role Provisioning Services 2.0),
each student's LMS user id recorded in nbgrader's gradebook.

The LMS user id is the one thing Assignment and Grade Services address a score by (Moodle: its own user id;
Canvas: the LTI user id), and no grade export holds it. NRPS lists it with the identifiers an instructor knows:
each member is matched to nbgrader's student by `c.LTI.roster_match`:
  "email"      the member's `email` equals the student's email in the gradebook;
  "id_number"  the member's `lis_person_sourcedid` (Moodle's ID number, Canvas's SIS user id) is the student id;
  "login"      the member's `ext_user_username` (Moodle's username) is the student id.
A Learner who matches nobody is added (id: the identifier, an email's part before the @). The LMS is the authority
on whose id is whose: a student holding an id that the LMS gives to another student loses it. One transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .platform import MEMBERSHIP_TYPE, describe, json_body
from .settings import CONFIG_SECTION, MATCHES, LtiError

MAX_PAGES = 1000   # a platform whose "next" never ends is not followed for ever


def fetch_members(client, url: str) -> list[dict]:
    """Every member of the context, asked with `client` (a platform.PlatformClient), following `Link: <...>;
    rel="next"`; LtiError when the LMS refuses."""
    members, seen = [], set()
    for _ in range(MAX_PAGES):
        if not url or url in seen:
            break
        seen.add(url)
        response = client.request("GET", url, headers={"Accept": MEMBERSHIP_TYPE})
        if response.status_code != 200:
            raise LtiError(f"The LMS refused its roster at {url}: {describe(response)}. Check "
                           f"{CONFIG_SECTION}.memberships_url and that Names and Role Provisioning Services are "
                           "enabled for this tool.")
        page = json_body(response, dict).get("members")
        if not isinstance(page, list):
            raise LtiError(f"GET {url} answered without a list of members: {response.text[:200]!r}")
        members += [member for member in page if isinstance(member, dict) and member.get("user_id")]
        url = response.links.get("next", {}).get("url")
    for member in members:
        member["user_id"] = str(member["user_id"])
    return members


def is_active(member: dict) -> bool:
    return member.get("status", "Active") == "Active"  # NRPS: a member without a status is active


def is_learner(member: dict) -> bool:
    roles = member.get("roles")
    return isinstance(roles, list) and any(isinstance(role, str) and (role == "Learner" or role.endswith("#Learner"))
                                           for role in roles)


def member_key(member: dict, match: str) -> str:
    """The member's identifier that `match` names ("" when the LMS did not send it); an email is lower-cased."""
    value = str(member.get(MATCHES[match][0]) or "").strip()
    return value.lower() if match == "email" else value


def student_key(student_id: str, email: str | None, match: str) -> str:
    return (email or "").strip().lower() if match == "email" else student_id


def refusal(score, members: dict[str, dict] | None, match: str) -> str | None:
    """Why `score` must not be posted (no LMS user id; with a roster: not a member, or another person), or None."""
    if score.user_id is None:
        return ("no LMS user id in the gradebook: record them with `autograder lti roster` "
                f"(or `nbgrader db student add {score.student} --lms-user-id=ID`)")
    if members is None:
        return None
    member = members.get(score.user_id)
    if member is None or not is_active(member):
        return (f"LMS user id {score.user_id!r} is not an active member of the course on the LMS; nothing was posted. "
                "Record the right ids with `autograder lti roster`.")
    theirs, ours = member_key(member, match), student_key(score.student, score.email, match)
    if theirs and ours and theirs != ours:
        label = MATCHES[match][1]
        return (f"LMS user id {score.user_id!r} belongs to {member.get('name') or 'another member'} ({label} {theirs}) "
                f"on the LMS, not to this student ({label} {ours}); nothing was posted. Record the right ids with "
                "`autograder lti roster`.")
    return None


@dataclass
class RosterReport:
    recorded: list[tuple[str, str]] = field(default_factory=list)     # (student, LMS user id) newly set or changed
    unchanged: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)                     # new students of the gradebook
    taken_from: list[tuple[str, str]] = field(default_factory=list)   # (student, id) the LMS gives to another
    unmatched: list[str] = field(default_factory=list)                 # learners matched to nobody, and why
    not_in_lms: list[str] = field(default_factory=list)                # gradebook students no member matched


def record_roster(db_url: str, members: list[dict], match: str, add_missing: bool = True,
                  dry_run: bool = False) -> RosterReport:
    """Record each active Learner's LMS user id on the gradebook student it matches, in one transaction.

    LtiError (nothing written) when no Learner carries the identifier `match` names.
    """
    from ..grading.gradebook import open_gradebook  # first: it makes nbgrader's import fast
    from nbgrader.api import Student  # noqa: I001
    from .roster import STUDENT_ID

    field_name, label = MATCHES[match]
    learners = [member for member in members if is_active(member) and is_learner(member)]
    if learners and not any(member_key(member, match) for member in learners):
        raise LtiError(f"The LMS's roster gives no {label} ({field_name}) for any of its {len(learners)} students, "
                       f"so they cannot be matched by {CONFIG_SECTION}.roster_match = {match!r}. Let the LMS share it "
                       "(Moodle: the tool's Privacy settings, 'Share launcher's email with tool' / 'Share launcher's "
                       f"name with tool': Always), or choose another {CONFIG_SECTION}.roster_match; nothing was "
                       "recorded.")
    report = RosterReport()
    with open_gradebook(db_url) as gradebook:
        session = gradebook.db
        try:
            students = session.query(Student).all()
            by_key = {student_key(s.id, s.email, match): s for s in students if student_key(s.id, s.email, match)}
            by_user = {s.lms_user_id: s for s in students if s.lms_user_id}
            matched = set()
            for member in learners:
                key, user_id = member_key(member, match), member["user_id"]
                student = by_key.get(key) if key else None
                if student is None:
                    new_id = key.split("@")[0] if match == "email" else key
                    if not (add_missing and key and STUDENT_ID.fullmatch(new_id)
                            and new_id not in {s.id for s in students}):
                        name = member.get("name") or user_id
                        report.unmatched.append(f"{name} (LMS user id {user_id}, {label} {key or 'not given'})")
                        continue
                    student = Student(id=new_id, first_name=member.get("given_name") or None,
                                      last_name=member.get("family_name") or None,
                                      email=member.get("email") or None)
                    session.add(student)
                    students.append(student)
                    report.added.append(new_id)
                matched.add(student.id)
                holder = by_user.get(user_id)
                if holder is not None and holder is not student:
                    holder.lms_user_id = None
                    report.taken_from.append((holder.id, user_id))
                if student.lms_user_id == user_id:
                    report.unchanged.append(student.id)
                else:
                    by_user.pop(student.lms_user_id, None)
                    student.lms_user_id = user_id
                    report.recorded.append((student.id, user_id))
                by_user[user_id] = student
            report.not_in_lms = sorted(s.id for s in students if s.id not in matched)
            session.rollback() if dry_run else session.commit()
        except BaseException:
            session.rollback()
            raise
    return report


def link_memberships_url(memberships_url: str, resource_link: str) -> str:
    """The resource link membership service: the context's memberships URL with `rlid` (NRPS 2.0)."""
    parts = urlsplit(memberships_url)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "rlid"]
    return urlunsplit(parts._replace(query=urlencode(query + [("rlid", resource_link)])))


def roster_url(args, course, settings) -> tuple[str, str]:
    """The memberships URL to fetch (the assignment's link's, with `rlid`, or the course's) and whose members those
    are, for the report; LtiError saying what to do when it is not known, or when --url or c.LTI.memberships_url
    is not the roster of the LMS course this grader serves."""
    from .links import LinkError, same_service, served_link_at

    if args.assignment and args.assignment not in course.assignments:
        raise LtiError(f"the course has no assignment {args.assignment!r}; it has {', '.join(course.assignments)}.")
    try:
        link = served_link_at(args.db or course.db_url, settings, args.assignment or None)
    except LinkError as error:
        raise LtiError(str(error)) from None
    context = link["context"]
    for given, named in ((args.url, "--url"), (settings.memberships_url, f"{CONFIG_SECTION}.memberships_url")):
        if given and context and context.memberships and not same_service(given, context.memberships):
            raise LtiError(f"{named} {given} is not the roster of {context.name}, the LMS course this grader serves "
                           f"({context.memberships}); nothing was fetched or recorded.")
    context_url = args.url or link["memberships"] or settings.memberships_url
    if not args.assignment:
        if not context_url:
            raise LtiError(f"{settings.config_file}: set {CONFIG_SECTION}.memberships_url to the LMS's Names and Role "
                           "Provisioning Services URL (or give --url), as `autograder lti config` explains; a "
                           "launch from the LMS also tells it.")
        return context_url, "the course"
    if not link["resource_link"] or not context_url:
        raise LtiError(f"No launch of {args.assignment} from the LMS is on record, so its link on the LMS is not "
                       "known yet. Open the assignment's activity once from the LMS (as instructor or student) while "
                       "`autograder serve` runs, then run this again; or use `autograder lti roster --context` for "
                       "every member of the course.")
    return link_memberships_url(context_url, link["resource_link"]), f"the LMS link of {args.assignment}"

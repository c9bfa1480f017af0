<?php
// Points the lab's LTI 1.3 tool (site level, serving every course) at a running `autograder serve`: its tool URL,
// initiate login URL and redirection URI. Usage: php point_tool.php TOOL_TYPE_ID SERVICE_URL. Idempotent.
define('CLI_SCRIPT', true);
require('/tmp/moodle-lab/moodle/config.php');
$typeid = (int)$argv[1];
$base = rtrim($argv[2], '/');
$DB->set_field('lti_types', 'baseurl', "$base/lti/launch", ['id' => $typeid]);
foreach (['initiatelogin' => "$base/lti/login", 'redirectionuris' => "$base/lti/launch", 'toolurl' => "$base/lti/launch"] as $name => $value) {
    if ($DB->record_exists('lti_types_config', ['typeid' => $typeid, 'name' => $name])) {
        $DB->set_field('lti_types_config', 'value', $value, ['typeid' => $typeid, 'name' => $name]);
    } else {
        $DB->insert_record('lti_types_config', (object)['typeid' => $typeid, 'name' => $name, 'value' => $value]);
    }
}
echo "tool $typeid -> $base\n";

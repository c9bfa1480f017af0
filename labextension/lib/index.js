// A Submit button in the notebook's toolbar (JupyterLab 4, Notebook 7): save, send what was saved to the course's
// autograder service with the key of the notebook's metadata (autograder/web/api.py), show the verdict in a panel.
// A notebook without a key in force asks for one, pasted from the assignment's page, and keeps it in its metadata.
import { Dialog, showDialog, ToolbarButton } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

const WAIT = 20; // seconds the service holds a status request until the attempt is graded
const STYLES = {
  'autograder-policy': { color: 'var(--jp-ui-font-color2)' },
  'autograder-headline': { fontWeight: 'bold', marginTop: '10px' },
  'autograder-exercise': { marginTop: '8px' },
  'autograder-message': { paddingLeft: '12px', whiteSpace: 'pre-wrap' },
  'autograder-error': { color: 'var(--jp-error-color1)' }
};

class ResultPanel extends Widget {
  constructor() {
    super();
    this.id = 'autograder-result';
    this.addClass('autograder-result');
    this.title.label = 'Grading';
    this.title.closable = true;
    this.node.style.padding = '8px';
    this.node.style.overflow = 'auto';
  }

  clear() {
    this.node.textContent = '';
  }

  say(text, className) {
    const line = document.createElement('p');
    line.textContent = text;
    line.style.margin = '0 0 6px';
    if (className) {
      line.className = className;
      Object.assign(line.style, STYLES[className] || {});
    }
    this.node.appendChild(line);
    return line;
  }

  link(text, url) {
    const line = document.createElement('p');
    const anchor = document.createElement('a');
    anchor.href = url;
    anchor.target = '_blank';
    anchor.rel = 'noopener';
    anchor.textContent = text;
    anchor.className = 'autograder-page';
    Object.assign(anchor.style, { color: 'var(--jp-content-link-color)', textDecoration: 'underline' });
    line.appendChild(anchor);
    this.node.appendChild(line);
  }
}

// a key as the assignment's page shows it, "ag1.<the service's URL, base64url>.<key>" (web/student.py); the same
// reading as visible_check._pasted_key
const PASTED = /^ag1\.([A-Za-z0-9_-]{4,400})\.([A-Za-z0-9_-]{16,128})$/;
const SERVICE_URL = new RegExp('^https?://([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?' +
                               "(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$");
const NOT_A_KEY = 'That is not a submit key. On the assignment\'s page, press "Get a submit key" and copy the whole ' +
                  'key (it starts with ag1.).';

export function pastedKey(text) {
  const found = PASTED.exec(String(text).trim());
  let service = '';
  if (found) {
    const base64 = found[1].replace(/-/g, '+').replace(/_/g, '/');
    try {
      const bytes = Uint8Array.from(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)), c => c.charCodeAt(0));
      service = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (error) {
      service = ''; // not base64, or not UTF-8
    }
  }
  if (!SERVICE_URL.test(service)) {
    throw new Error(NOT_A_KEY);
  }
  return { service: service.replace(/\/+$/, ''), key: found[2] };
}

class KeyBody extends Widget {
  // the dialog's body: where to get a key (the assignment's page, linked when the notebook knows it) and a field
  constructor(page) {
    super();
    this.addClass('autograder-key-dialog');
    const intro = document.createElement('p');
    intro.append('This notebook needs your submit key. On ');
    if (page) {
      const anchor = document.createElement('a');
      anchor.href = page;
      anchor.target = '_blank';
      anchor.rel = 'noopener';
      anchor.textContent = "the assignment's page";
      anchor.className = 'autograder-key-page';
      Object.assign(anchor.style, { color: 'var(--jp-content-link-color)', textDecoration: 'underline' });
      intro.append(anchor);
    } else {
      intro.append("the assignment's page of the course's service");
    }
    intro.append(', press "Get a submit key", copy the key and paste it here.');
    intro.style.maxWidth = '420px';
    this.input = document.createElement('input');
    this.input.className = 'jp-mod-styled autograder-key';
    this.input.placeholder = 'ag1.…';
    this.input.autocomplete = 'off';
    this.input.spellcheck = false;
    this.input.style.width = '100%';
    this.node.append(intro, this.input);
  }

  getValue() {
    return this.input.value;
  }
}

async function askKey(page) {
  const answer = await showDialog({
    title: 'Your submit key',
    body: new KeyBody(page),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Use this key' })],
    focusNodeSelector: 'input'
  });
  return answer.button.accept ? answer.value : null;
}

async function call(url, key, body) {
  const answer = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/x-ipynb+json' },
    body
  });
  let json;
  try {
    json = await answer.json();
  } catch (error) {
    throw new TypeError(`HTTP ${answer.status}`);
  }
  if (!answer.ok && !json.error) {
    throw new TypeError(`HTTP ${answer.status}`);
  }
  if (json.error) {
    json.status = answer.status;
  }
  return json;
}

function showResult(panel, attempt) {
  const result = attempt.result;
  if (!result) {
    panel.link('Graded: see the result', attempt.result_url);
    return;
  }
  panel.say(`Attempt ${attempt.number}: ${result.headline}.`, 'autograder-headline');
  panel.say(result.summary);
  for (const line of [result.reason, ...result.notes]) {
    if (line) {
      panel.say(line);
    }
  }
  for (const exercise of result.exercises) {
    const most = exercise.max_score;
    const points = exercise.pending ? '' : ` (${exercise.score} of ${most} point${most === 1 ? '' : 's'})`;
    panel.say(`${exercise.title}: ${exercise.status}${points}`, 'autograder-exercise');
    for (const message of exercise.messages) {
      panel.say(message, 'autograder-message');
    }
  }
  if (result.withheld) {
    panel.say(result.withheld);
  }
  panel.link("The result's page", attempt.result_url);
}

async function submit(app, panel, context) {
  if (!panel.isAttached) {
    app.shell.add(panel, 'right', { rank: 1000 });
  }
  app.shell.activateById(panel.id);
  panel.clear();
  await context.save();
  const where = context.model.getMetadata('autograder') || {};
  let service = (where.service || '').replace(/\/+$/, '');
  let key = where.key;
  let state;
  let attempt;
  try {
    if (service && key) {
      state = await call(`${service}/api/assignment`, key);
      if (state.error) {
        panel.say(state.error, 'autograder-error');
        if (state.status !== 403) {
          return;
        }
        key = undefined; // expired, replaced or withdrawn: ask for a new one
      }
    }
    if (!key) {
      const page = service && where.assignment ? `${service}/assignments/${encodeURIComponent(where.assignment)}` : '';
      const pasted = await askKey(page);
      if (pasted === null) {
        panel.say('Nothing was sent: this notebook needs a submit key.', 'autograder-error');
        return;
      }
      let found;
      try {
        found = pastedKey(pasted);
      } catch (error) {
        panel.say(`${error.message} Nothing was sent.`, 'autograder-error');
        return;
      }
      service = found.service;
      state = await call(`${service}/api/assignment`, found.key);
      if (state.error) {
        panel.say(`${state.error} Nothing was sent or kept.`, 'autograder-error');
        return;
      }
      key = found.key;
      context.model.setMetadata('autograder', { ...where, service, assignment: state.assignment, key });
      panel.say("Your key is now kept in this notebook's metadata: you will not be asked again.", 'autograder-kept');
      await context.save();
    }
    const saved = await app.serviceManager.contents.get(context.path, { content: true, type: 'notebook' });
    panel.say(`${state.assignment}: ${state.policy}.`, 'autograder-policy');
    if (state.left <= 0) {
      panel.say('No attempts are left; nothing was sent.', 'autograder-error');
      return;
    }
    attempt = await call(`${service}/api/submit`, key, JSON.stringify(saved.content));
    if (attempt.error) {
      panel.say(attempt.error, 'autograder-error');
      return;
    }
  } catch (error) {
    panel.say(`The service at ${service} cannot be reached (${error.message}): you may be offline, or it is down. ` +
              'Nothing was sent and your notebook is saved as it was; please try again later.', 'autograder-error');
    return;
  }
  const waiting = panel.say(`Sent: attempt ${attempt.number}. Grading...`);
  try {
    while (!attempt.done) {
      attempt = await call(`${attempt.status_url}?wait=${WAIT}`, key);
      if (attempt.error) {
        panel.say(attempt.error, 'autograder-error');
        return;
      }
    }
  } catch (error) {
    panel.link('Your attempt was received and will be graded; see its result here', attempt.result_url);
    return;
  }
  waiting.remove();
  showResult(panel, attempt);
}

const plugin = {
  id: 'autograder-submit:plugin',
  description: 'A Submit button that sends the saved notebook to the course autograder service.',
  autoStart: true,
  activate: app => {
    const panel = new ResultPanel();
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (notebook, context) => {
        const button = new ToolbarButton({
          className: 'autograder-submit',
          label: 'Submit',
          tooltip: 'Save the notebook and submit it for grading',
          onClick: () => void submit(app, panel, context)
        });
        notebook.toolbar.insertItem(10, 'autograder-submit', button);
        return button;
      }
    });
  }
};

export default plugin;

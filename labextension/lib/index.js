// A Submit button in the notebook's toolbar (JupyterLab 4, Notebook 7): save, send what was saved to the course's
// autograder service with the key of the notebook's metadata (autograder/web/api.py), show the verdict in a panel.
import { ToolbarButton } from '@jupyterlab/apputils';
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
  const where = context.model.getMetadata('autograder') || {};
  if (!where.service || !where.key) {
    panel.say("This notebook does not say where to submit it. Download it from the assignment's page of the " +
              'service and copy your code into it.', 'autograder-error');
    return;
  }
  const service = where.service.replace(/\/+$/, '');
  await context.save();
  const saved = await app.serviceManager.contents.get(context.path, { content: true, type: 'notebook' });
  let attempt;
  try {
    const state = await call(`${service}/api/assignment`, where.key);
    if (state.error) {
      panel.say(state.error, 'autograder-error');
      return;
    }
    panel.say(`${state.assignment}: ${state.policy}.`, 'autograder-policy');
    if (state.left <= 0) {
      panel.say('No attempts are left; nothing was sent.', 'autograder-error');
      return;
    }
    attempt = await call(`${service}/api/submit`, where.key, JSON.stringify(saved.content));
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
      attempt = await call(`${attempt.status_url}?wait=${WAIT}`, where.key);
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

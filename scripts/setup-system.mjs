// Part of `npm install`: makes sure a Python interpreter can run the training worker (torch,
// torchvision, onnx; scikit-learn and Pillow for the reports' cross-checks), that Chromium exists for
// the dashboard's browser tests, and that PostgreSQL's programs exist for the test suite's PostgreSQL
// half (it starts a throwaway server from them when none answers), and Black, which formats the Python. Uses Debian's packages where apt-get is usable (root or passwordless
// sudo); otherwise says what to install and carries on, since datasets, serving and reports work
// without training.
//   FASHION_HOW_SKIP_PYTHON_SETUP=1   skip this step
//   FASHION_HOW_PYTHON=/path/python   use that interpreter
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { postgresqlPrograms } from './postgresql.mjs';

const MODULES = ['torch', 'torchvision', 'onnx', 'PIL', 'sklearn'];
const PACKAGES = ['python3-torch', 'python3-torchvision', 'python3-onnx', 'python3-pil', 'python3-sklearn'];
const BROWSER = '/usr/bin/chromium';
const hasBlack = () => spawnSync('black', ['--version'], { stdio: 'ignore' }).status === 0;
const candidates = process.env.FASHION_HOW_PYTHON ? [process.env.FASHION_HOW_PYTHON] : ['/usr/bin/python3', 'python3', 'python'];

function missingModules(python) {
  const probe = `import importlib.util, json; print(json.dumps([m for m in ${JSON.stringify(MODULES)} if importlib.util.find_spec(m) is None]))`;
  try {
    return JSON.parse(execFileSync(python, ['-c', probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    return null;
  }
}

function readyPython() {
  for (const python of candidates) {
    const missing = missingModules(python);
    if (missing && missing.length === 0) return python;
  }
  return null;
}
const ready = () => readyPython() && existsSync(BROWSER) && postgresqlPrograms() && hasBlack();

if (process.env.FASHION_HOW_SKIP_PYTHON_SETUP) process.exit(0);
if (ready()) {
  console.log(
    `fashion-how: training will use ${readyPython()} (torch, torchvision, onnx found); browser tests use ${BROWSER}; PostgreSQL programs in ${postgresqlPrograms()}`,
  );
  process.exit(0);
}
const asRoot = process.getuid?.() === 0;
const sudo = !asRoot && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (hasApt && (asRoot || sudo) && !process.env.FASHION_HOW_PYTHON) {
  const packages = [
    ...(readyPython() ? [] : PACKAGES),
    ...(existsSync(BROWSER) ? [] : ['chromium']),
    ...(postgresqlPrograms() ? [] : ['postgresql']),
    ...(hasBlack() ? [] : ['black']),
  ];
  console.log(`fashion-how: installing ${packages.join(' ')}`);
  const run = (args) =>
    spawnSync(asRoot ? args[0] : 'sudo', asRoot ? args.slice(1) : args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
      .status;
  if (run(['apt-get', 'update', '-qq']) === 0 && run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]) === 0 && ready()) {
    console.log('fashion-how: the Python packages for training, Chromium and PostgreSQL are installed');
    process.exit(0);
  }
  console.warn('fashion-how: installing the Python packages failed; see the messages above');
} else {
  console.warn(
    'fashion-how: no Python with torch, torchvision and onnx was found, so training is unavailable until you install them:\n' +
      `  sudo apt-get install ${PACKAGES.join(' ')}    (Debian/Ubuntu)\n` +
      '  or: pip install torch torchvision onnx pillow scikit-learn, then set FASHION_HOW_PYTHON to that interpreter\n' +
      '  (and `apt-get install chromium postgresql black` for the dashboard browser tests, the PostgreSQL tests and the Python format check)',
  );
}
process.exit(process.env.CI ? 1 : 0);

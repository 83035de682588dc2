// The fashion-how dashboard: datasets, runs, reports, ensembles and a classify playground, over GraphQL.
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { getToken, setToken } from './api.js';
import { ComparePage } from './pages/Compare.js';
import { DatasetsPage } from './pages/Datasets.js';
import { EnsemblesPage } from './pages/Ensembles.js';
import { ReportPage, ReportsPage } from './pages/Reports.js';
import { RunPage, RunsPage } from './pages/Runs.js';
import { SweepPage, SweepsPage } from './pages/Sweeps.js';
import { TryItPage } from './pages/TryIt.js';
import './style.css';

const PAGES = [
  ['datasets', 'Datasets'],
  ['runs', 'Runs'],
  ['sweeps', 'Sweeps'],
  ['reports', 'Reports'],
  ['ensembles', 'Ensembles'],
  ['compare', 'Compare'],
  ['try', 'Try it'],
] as const;

function useHash(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return hash.replace(/^#\/?/, '').split('/').filter(Boolean);
}

function TokenBox() {
  const [value, setValue] = useState(getToken());
  const [saved, setSaved] = useState(Boolean(getToken()));
  return (
    <form
      className="token"
      onSubmit={(event) => {
        event.preventDefault();
        setToken(value.trim());
        setSaved(Boolean(value.trim()));
      }}
    >
      <input
        type="password"
        placeholder="API token (for training, ensembles)"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        aria-label="API token"
      />
      <button type="submit">{saved ? 'Token saved' : 'Use token'}</button>
    </form>
  );
}

function App() {
  const [page = 'datasets', id] = useHash();
  return (
    <>
      <header>
        <strong>fashion-how</strong>
        <nav>
          {PAGES.map(([key, label]) => (
            <a key={key} href={`#/${key}`} className={page === key ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <TokenBox />
      </header>
      <main>
        {page === 'datasets' && <DatasetsPage />}
        {page === 'runs' && (id ? <RunPage id={id} /> : <RunsPage />)}
        {page === 'sweeps' && (id ? <SweepPage id={id} /> : <SweepsPage />)}
        {page === 'reports' && (id ? <ReportPage id={id} /> : <ReportsPage />)}
        {page === 'ensembles' && <EnsemblesPage />}
        {page === 'compare' && <ComparePage ids={id?.split(',').filter(Boolean) ?? []} />}
        {page === 'try' && <TryItPage />}
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(<App />);

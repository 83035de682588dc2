// The fashion-how dashboard: datasets, runs, reports, ensembles and a classify playground, over GraphQL.
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { getToken, setToken } from './api.js';
import { AliasesPage } from './pages/Aliases.js';
import { ComparePage } from './pages/Compare.js';
import { DatasetPage, DatasetsPage } from './pages/Datasets.js';
import { EnsemblesPage } from './pages/Ensembles.js';
import { ItemPage } from './pages/Item.js';
import { LabelReviewPage } from './pages/Labels.js';
import { PredictionsPage } from './pages/Predictions.js';
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
  ['predictions', 'Predictions'],
  ['aliases', 'Models'],
  ['compare', 'Compare'],
  ['try', 'Try it'],
] as const;

/** Pages reached from another page's items, shown under that page's tab. */
const PARENT_TAB: Record<string, string> = { items: 'datasets', labels: 'datasets' };

/** The hash's path and its query: #/try?item=5 is ['try'] with item=5. */
function useHash(): { path: string[]; query: URLSearchParams } {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const [route = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  return { path: route.split('/').filter(Boolean), query: new URLSearchParams(query) };
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
  const {
    path: [page = 'datasets', id],
    query,
  } = useHash();
  const tab = PARENT_TAB[page] ?? page;
  return (
    <>
      <header>
        <strong>fashion-how</strong>
        <nav>
          {PAGES.map(([key, label]) => (
            <a key={key} href={`#/${key}`} className={tab === key ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <TokenBox />
      </header>
      <main>
        {page === 'datasets' && (id ? <DatasetPage key={id} id={id} /> : <DatasetsPage />)}
        {page === 'items' && id && <ItemPage key={id} id={id} />}
        {page === 'labels' && id && <LabelReviewPage key={id} id={id} />}
        {page === 'runs' && (id ? <RunPage id={id} /> : <RunsPage />)}
        {page === 'sweeps' && (id ? <SweepPage id={id} /> : <SweepsPage />)}
        {page === 'reports' && (id ? <ReportPage id={id} /> : <ReportsPage />)}
        {page === 'ensembles' && <EnsemblesPage />}
        {page === 'predictions' && <PredictionsPage />}
        {page === 'aliases' && <AliasesPage />}
        {page === 'compare' && <ComparePage ids={id?.split(',').filter(Boolean) ?? []} />}
        {page === 'try' && <TryItPage itemId={query.get('item') ?? undefined} />}
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(<App />);

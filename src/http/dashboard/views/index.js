// Every view of the dashboard; each registers its route when imported. The overview comes first (home).
import './overview.js';
import './cluster.js';
import './supervision.js';
import './agent.js';
import './task.js';
import './merge.js';
import './specs.js';
import './spec.js';

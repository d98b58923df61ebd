import { httpSuite } from './http.js';
import { serverTopology } from '../topology.js';

httpSuite(serverTopology);

# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    'name': 'Webhooks through queue_job (benchmark peer)',
    'summary': 'The OCA pattern the benchmark compares account_webhook with: one queue_job job per change',
    'version': '11.0.1.0.0',
    'category': 'Hidden',
    'license': 'LGPL-3',
    'author': 'account_webhook developers',
    'depends': ['base', 'queue_job'],
    'external_dependencies': {'python': ['requests']},
    'data': ['security/ir.model.access.csv'],
    'installable': True,
    'application': False,
}

# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    'name': 'Account Webhook',
    'summary': 'Signed HTTP callbacks when invoices and contacts change',
    'version': '11.0.6.1.0',
    'category': 'Accounting',
    'license': 'LGPL-3',
    'author': 'account_webhook developers',
    'website': 'https://github.com/account-webhook/account_webhook',
    'depends': ['account', 'mail'],
    'external_dependencies': {'python': ['psycopg2']},
    'data': [
        'security/ir.model.access.csv',
        'security/webhook_security.xml',
        'views/assets.xml',
        'views/webhook_replay_views.xml',
        'views/webhook_callback_views.xml',
        'views/webhook_delivery_views.xml',
        'wizards/webhook_copy_decision_views.xml',
        'views/webhook_menus.xml',
        'data/ir_cron.xml',
        'data/mail_data.xml',
    ],
    'demo': [
        'demo/webhook_callback_demo.xml',
    ],
    'post_init_hook': 'post_init_hook',
    'uninstall_hook': 'uninstall_hook',
}
